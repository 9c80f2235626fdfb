/** What every iterative solver of the fit is told and tells back. */
export type Progress = (message: string) => void;

export interface SolveOptions {
  tol: number;
  maxIter: number;
  progress?: Progress;
  label?: string;
}

export interface SolveResult { iterations: number; converged: boolean }

/** A solver gives up when its worst column has not fallen by 30% in this many iterations (CG; FISTA: 5 check intervals). */
export const STALL_ITERATIONS = 15;
