#!/bin/bash
# Prepare .gpu/ (ignored by git, < 64 MiB) for bench/gpu/check.sh on a bare NVIDIA machine that
# gets only the working tree: no node, no package registry there. Run here, then hand the
# device tool `bash bench/gpu/check.sh` with carry: [".gpu"].
#   .gpu/node.xz                 this machine's node binary, xz-compressed (unpacked there by python's lzma)
#   .gpu/app/coar.mjs            the CLI bundled to one JavaScript file by esbuild (shaders/ and
#                                test/reference/ are read from the working tree, two levels up)
#   .gpu/app/node_modules/webgpu the webgpu package with only linux-x64's dawn.node
#   .gpu/app/node_modules/sharp  a stub: the check decodes no images
#   .gpu/debs/libvulkan1_*.deb   Debian's Vulkan loader (the NVIDIA driver brings its ICD)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpu
rm -rf "$out"; mkdir -p "$out/app/node_modules" "$out/debs"
xz -T2 -6 -c "$(command -v node)" > "$out/node.xz"
node_modules/.bin/esbuild src/cli/main.ts --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --external:sharp --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
  --outfile="$out/app/coar.mjs"
w="$out/app/node_modules/webgpu"; mkdir -p "$w/dist/linux-x64"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$w/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$w/dist/linux-x64/"
mkdir -p "$out/app/node_modules/sharp"
cat > "$out/app/node_modules/sharp/package.json" <<'J'
{ "name": "sharp", "version": "0.0.0-stub", "type": "module", "main": "index.js" }
J
echo "export default function sharp() { throw new Error('the GPU check decodes no images (sharp is a stub in .gpu/)'); }" > "$out/app/node_modules/sharp/index.js"
(cd "$out/debs" && apt-get download libvulkan1 >/dev/null)
du -sh "$out"; du -sb "$out" | awk '{ if ($1 > 64 * 1048576) { print "over 64 MiB"; exit 1 } }'
