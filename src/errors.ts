/**
 * An error caused by what the user gave us (a file, a flag, a shape). The CLI prints its
 * message alone on one line and exits non-zero; anything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export function check(condition: unknown, message: () => string): asserts condition {
  if (!condition) throw new UserError(message());
}
