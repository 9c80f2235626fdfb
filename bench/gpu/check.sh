#!/bin/bash
# The GPU check (issue 21.6), for a bare NVIDIA machine that gets only the working tree plus
# .gpu/ (made by bench/gpu/prepare.sh here) and has PyTorch with CUDA but no node and no
# registry. In under 8 minutes it prints: adapter info (features, subgroup sizes,
# subgroup-matrix configs, the adapter profile), ResNet-18/50 and ViT-B/16 parity against
# PyTorch (reference procedure, CPU) per tile kind, a quick tune, masked passes/s per tile kind
# and precision beside PyTorch CUDA (reference procedure and batched masking), % of the
# GPU's f32 peak, and ViT-B/16's attention time in the flash tile against the register tile. Every step has its own time limit; a failed step is reported and skipped.
#   device tool: command "bash bench/gpu/check.sh", carry [".gpu"]
# Dry run on lavapipe (smaller): CHECK_ARCHS=resnet18 CHECK_VIT=0 CHECK_SIZE=64 CHECK_SPEED_ARCH=resnet18 CHECK_ATTN_MASKS=1 bash bench/gpu/check.sh
# (CHECK_ATTN=0 leaves out the ViT-B/16 attention timing, flash tile against register tile)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD; G=$ROOT/.gpu; W=$(mktemp -d); PY=${PYTHON:-python3}; T0=$SECONDS
say() { echo "[$(( SECONDS - T0 ))s] $*"; }
[ -f "$G/node.xz" ] || { echo "no .gpu/: run bench/gpu/prepare.sh on the build machine and carry .gpu"; exit 1; }

# 1. node and the Vulkan loader, unpacked with python alone (no xz, dpkg or ar needed)
$PY - "$G" "$W" <<'P'
import io, lzma, shutil, sys, tarfile, glob, os
g, w = sys.argv[1:]
shutil.copyfileobj(lzma.open(f'{g}/node.xz'), open(f'{w}/node', 'wb')); os.chmod(f'{w}/node', 0o755)
for deb in glob.glob(f'{g}/debs/*.deb'):
    data = open(deb, 'rb').read(); i = 8
    while i < len(data):  # ar members: 60-byte headers
        name, size = data[i:i + 16].decode().strip(), int(data[i + 48:i + 58].decode()); body = data[i + 60:i + 60 + size]
        if name.startswith('data.tar'): tarfile.open(fileobj=io.BytesIO(body)).extractall(f'{w}/vk')
        i += 60 + size + (size & 1)
P
export LD_LIBRARY_PATH="$W/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# the NVIDIA driver's Vulkan ICD: its json where the driver installed one, else one written for libGLX_nvidia
if ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
  lib=$( (ldconfig -p 2>/dev/null | awk '/libGLX_nvidia.so.0/ {print $NF; exit}'; ls /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 2>/dev/null) | head -1)
  if [ -n "$lib" ]; then
    echo "{\"file_format_version\": \"1.0.0\", \"ICD\": {\"library_path\": \"$lib\", \"api_version\": \"1.3.0\"}}" > "$W/nvidia_icd.json"
    export VK_ICD_FILENAMES="$W/nvidia_icd.json"; say "no NVIDIA ICD json installed: wrote one for $lib"
  else
    say "no NVIDIA Vulkan driver found (no nvidia_icd.json, no libGLX_nvidia.so.0): the container may expose compute only (NVIDIA_DRIVER_CAPABILITIES needs graphics)"
  fi
fi
export WEBCOAR_TUNING="$W/tuning.json"
# Dawn lists subgroup-matrix configs only with its unsafe APIs allowed (src/gpu/device.ts)
export WEBCOAR_DAWN_UNSAFE=1
coar() { local t=$1; shift; timeout "$t" "$W/node" "$G/app/coar.mjs" "$@" 2> >(grep -v '^Warning: maxDynamic' >&2); }
nvidia-smi -L 2>/dev/null; $PY -c "import torch, torchvision; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'torchvision', torchvision.__version__)" || say "PyTorch/torchvision missing: parity and peers are skipped"

# 2. adapter info and profile
say "== adapter"
coar 60 info || { say "no WebGPU adapter: stop"; exit 1; }

# 3. parity per tile kind (the engine on the GPU against PyTorch on the CPU)
err() { $PY -c "import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); print(max(np.linalg.norm(a[m]-b[m])/np.linalg.norm(b[m]) for m in range(len(b))))" "$1" "$2"; }
parity() { # arch dir
  local arch=$1 d=$2 kinds
  coar 60 bench tiles --arch "$arch" --weights "$d/weights.safetensors" --size "$3" --json > "$d/tiles.json" || return
  $PY -c "import json; l=json.load(open('$d/tiles.json')); print('profile:', l['profile']); print('subgroups:', l.get('subgroups'), 'subgroup-matrix configs:', l['subgroupMatrixConfigs'])"
  kinds=$($PY -c "
import json; l=json.load(open('$d/tiles.json')); best={}
for c in l['classes']:
  for t in c['candidates']: best.setdefault(t['kind'], t['name'])
print(' '.join(best.values()))")
  for tile in default $kinds; do
    local extra=(); [ "$tile" = default ] || extra=(--tile "$tile")
    coar 120 ablate --arch "$arch" --weights "$d/weights.safetensors" --inputs "$d/inputs.npy" --labels "$d/labels.npy" --masks "$d/masks.npy" \
      --out "$d/ours.npy" --output logits "${extra[@]}" 2>/dev/null && say "parity $arch tile $tile: relative error $(err "$d/ours.npy" "$d/logits.npy") (tests take <= 1e-4)"
  done
}
SIZE=${CHECK_SIZE:-224}
for a in ${CHECK_ARCHS:-resnet18 resnet50}; do
  say "== parity $a"
  timeout 120 $PY test/reference/resnet_reference.py $a "$W/$a" --n 2 --classes 1000 --size "$SIZE" >/dev/null && parity $a "$W/$a" "$SIZE"
done
if [ "${CHECK_VIT:-1}" = 1 ]; then
  say "== parity vit_b_16"
  timeout 150 $PY test/reference/vit_reference.py "$W/vit" --arch vit_b_16 --classes 1000 --n 1 >/dev/null && parity vit_b_16 "$W/vit" 224
fi

# 4. a quick tune, then masked passes/s per tile kind and precision, beside PyTorch CUDA
S=${CHECK_SPEED_ARCH:-resnet50}; R=$W/$S
[ -f "$R/weights.safetensors" ] || timeout 60 $PY test/reference/resnet_reference.py $S "$R" --n 1 --classes 1000 --no-forward >/dev/null
# the GPU's f32 peak (FMA, no tensor cores), for the % column
PEAK=$($PY - <<'P'
import subprocess
peaks = {'H100 PCIe': 51e12, 'H100': 67e12, 'H200': 67e12, 'A100': 19.5e12, 'RTX 4090': 82.6e12, 'L40S': 91.6e12, 'A10': 31.2e12}
try: name = subprocess.run(['nvidia-smi', '--query-gpu=name', '--format=csv,noheader'], capture_output=True, text=True).stdout.strip()
except Exception: name = ''
print(next((v for k, v in peaks.items() if k in name), 0))
P
)
say "f32 peak: $PEAK FLOP/s (0: unknown GPU)"
say "== quick tune ($S)"
coar 120 bench tune --arch $S --weights "$R/weights.safetensors" --size "$SIZE" --masks 32 --quick | tail -2
say "== ceiling (and the subgroup-matrix GEMM per config, where the adapter has any)"
coar 120 bench ceiling --quick --json 2>/dev/null | $PY -c "
import json, sys
try: c = json.load(sys.stdin)
except ValueError: print('ceiling failed (run coar bench ceiling alone to see why)'); sys.exit()
print(f\"GEMM f32 {c['gemm']['gflops']:.1f} GFLOP/s (tile {c['gemm']['tile']}), copy {c['copy']['gbps']:.1f} GB/s\")
for t in c['trials']: print(f\"  {t['kind']} {t['name']}: {t['rate']:.1f}\")
for t in c.get('subgroupMatrix', []): print(f\"  subgroup-matrix {t['name']}: {t['gflops']:.1f} GFLOP/s, error {t['relError']:.2e} against float64\" + (f\" ({t['error']})\" if t.get('error') else ''))
if not c.get('subgroupMatrix'): print('  subgroup-matrix: the adapter lists no configs')"
rate() { coar 90 bench --profile --arch $S --weights "$R/weights.safetensors" --size "$SIZE" --masks 32 --repeats 3 --json "$@" 2>/dev/null | $PY -c "
import json, sys
try: j = json.load(sys.stdin)
except ValueError: print('failed (run it alone to see why)'); sys.exit()
f = j['passesPerSecond'] * j['flopsPerPass']
print(f\"{j['passesPerSecond']:.1f} passes/s, {f / 1e12:.3f} TFLOP/s\" + (f\", {100 * f / $PEAK:.1f}% of f32 peak\" if $PEAK else ''))"; }
say "$S ${SIZE}x${SIZE} masked passes/s (32 masks x 1 example), tuned: $(rate)"
for t in 4x4/16x16/wgmem8 8x4/16x16/wgmem4 4x16/64x1/sg 16x8/64x1; do say "  f32 --tile $t: $(rate --tile $t)"; done
say "  f16 storage, tuned: $(rate --precision f16)"
say "  f16 math --tile 4x4/16x16/wgmem8/half: $(rate --precision f16 --tile 4x4/16x16/wgmem8/half)"
say "  f16 math and sums --tile 4x4/16x16/wgmem8/half/acc16: $(rate --precision f16 --tile 4x4/16x16/wgmem8/half/acc16)"
say "  subgroup-matrix conv tiles: not written yet (issue 21.3); its GEMM probe is in the ceiling above"

# 5. ViT-B/16 attention: the flash tile (keys and values staged in workgroup memory, what GPU
# profiles default to) against the register tile (lavapipe's default), the same batch, one line
if [ "${CHECK_ATTN:-1}" = 1 ]; then
  say "== vit_b_16 attention: flash tile against register tile"
  V=$W/vit; AM=${CHECK_ATTN_MASKS:-32}
  [ -f "$V/weights.safetensors" ] || timeout 90 $PY test/reference/vit_reference.py "$V" --arch vit_b_16 --classes 1000 --n 1 --no-forward >/dev/null
  for t in attn/flash64/kv32 attn/8q/64; do
    coar 150 bench --profile --arch vit_b_16 --weights "$V/weights.safetensors" --masks "$AM" --repeats 3 --json --tile "$t" > "$V/attn_${t//\//_}.json" 2>/dev/null
  done
  say "$($PY - "$V/attn_attn_flash64_kv32.json" "$V/attn_attn_8q_64.json" "$AM" <<'P'
import json, sys
def load(path):
    try: j = json.load(open(path))
    except (OSError, ValueError): return None
    ks = [k for k in j['profile']['kernels'] if k['kind'] == 'attention']
    return sum(k['seconds'] for k in ks), sorted({d.get('tile', '?') for k in ks for d in k['dispatches']}), j['passesPerSecond'], j['profile']['method']
f, r = load(sys.argv[1]), load(sys.argv[2])
head = f'vit_b_16 attention (197 tokens, 12 layers x 12 heads of 64, {sys.argv[3]} masks x 1 example per batch):'
if not f or not r: print(head, 'flash', 'ok' if f else 'failed', '/ register', 'ok' if r else 'failed', '(run coar bench --profile --arch vit_b_16 --tile attn/... alone to see why)')
else: print(head, f"flash {'+'.join(f[1])} {1e3 * f[0]:.2f} ms, register {'+'.join(r[1])} {1e3 * r[0]:.2f} ms per batch ({f[3]} timing): flash {r[0] / f[0]:.2f}x; end to end {f[2]:.1f} vs {r[2]:.1f} passes/s")
P
)"
fi
say "== PyTorch CUDA ($S ${SIZE}x${SIZE}, 32 masks x 1 example)"
timeout 120 $PY bench/gpu/torch_cuda.py $S 32 1 16 "$SIZE"
say "done in $(( SECONDS - T0 )) s"
