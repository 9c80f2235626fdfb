#!/usr/bin/env bash
# Reproduce the COAR-Edit case studies (docs/EDIT.md) from the checked-in models:
#
#   bash case-studies/reproduce.sh [fix-error|forget-class|backdoor|spurious|fix-error-vit|forget-class-vit|backdoor-vit|all]
#
# (the -vit studies repeat their study on the bundled ViT's architecture, 1,792 components)
#
# For each study: pick the example sets (prepare.py), sweep the attributed examples with the
# engine, fit their attributions, run `coar edit`, then score the edited weights in PyTorch
# on held-out test images (evaluate.py) and write the report (report.ts). Sweeps resume when
# re-run. Environment: OUT (default out/case-studies), MASKS (default 500 for the CNN's 112
# components), VIT_MASKS (default 2000 for the ViT's 1,792), ALPHA (0.05), EVALUATE=0 to stop
# after the edits.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/case-studies}
MASKS=${MASKS:-500}
VIT_MASKS=${VIT_MASKS:-2000}
ALPHA=${ALPHA:-0.05}
PY=/usr/bin/python3
coar() { node bin/coar.js "$@"; }

# sweep + fit the attributed examples of a study into a store
attribute() {  # store index-file weights data-flags...  (ARCH, N_MASKS: mini-resnet, $MASKS unless set)
  local store=$1 indices=$2 weights=$3; shift 3
  coar sweep --arch "${ARCH:-mini-resnet}" --weights "$weights" "$@" --indices "@$indices" \
    --masks "${N_MASKS:-$MASKS}" --alpha "$ALPHA" --seed 0 --out "$store"
  coar fit "$store" --quiet
}

run_study() {
  local study=$1 d="$OUT/$1"
  $PY case-studies/prepare.py "$OUT" --study "$study"
  case "$study" in
    fix-error)
      attribute "$d/store" "$d/store.txt" weights/fashion-cnn.safetensors --data fashion-mnist:test
      coar edit --arch mini-resnet --weights weights/fashion-cnn.safetensors --raise --max-drop 0.2 --max-k 8 --candidates 16 --each \
        --target "$d/store#index=@$d/target.txt" --reference "$d/store#index=@$d/reference.txt" \
        --val-reference "fashion-mnist:test#index=@$d/val_reference.txt" \
        --title "Fix test image" --out "$d" --quiet ;;
    forget-class)
      attribute "$d/store" "$d/store.txt" weights/fashion-cnn.safetensors --data fashion-mnist:test
      coar edit --arch mini-resnet --weights weights/fashion-cnn.safetensors --lower --max-drop 2 \
        --target "$d/store#index=@$d/target.txt" --reference "$d/store#index=@$d/reference.txt" \
        --val-target "fashion-mnist:test#index=@$d/val_target.txt" --val-reference "fashion-mnist:test#index=@$d/val_reference.txt" \
        --title "Forget a class" --out "$d/edit" --quiet ;;
    backdoor)
      # the target set is triggered images (true labels), the reference set clean ones: two stores
      local w=weights/fashion-cnn-backdoor.safetensors
      attribute "$d/store-triggered" "$d/target.txt" "$w" --inputs "$d/triggered.npy" --labels "$d/labels.npy"
      attribute "$d/store" "$d/reference.txt" "$w" --data fashion-mnist:test
      coar edit --arch mini-resnet --weights "$w" --raise --max-drop 0.8 --candidates 48 \
        --target "$d/store-triggered" --reference "$d/store" \
        --val-target "npy:$d/triggered.npy,$d/labels.npy#index=@$d/val_target.txt" --val-reference "fashion-mnist:test#index=@$d/val_reference.txt" \
        --title "Remove a backdoor" --out "$d/edit" --quiet ;;
    spurious)
      local w=weights/fashion-cnn-spurious.safetensors
      attribute "$d/store" "$d/store.txt" "$w" --inputs "$d/framed.npy" --labels "$d/labels.npy"
      coar edit --arch mini-resnet --weights "$w" --raise --max-drop 1 --candidates 48 \
        --target "$d/store#index=@$d/target.txt" --reference "$d/store#index=@$d/reference.txt" \
        --val-target "npy:$d/framed.npy,$d/labels.npy#index=@$d/val_target.txt" --val-reference "npy:$d/framed.npy,$d/labels.npy#index=@$d/val_reference.txt" \
        --title "Subpopulation robustness" --out "$d/edit" --quiet ;;
    fix-error-vit)
      # the bundled ViT: 1,792 components (rows of its linear layers) instead of 112 conv filters
      ARCH=vit N_MASKS=$VIT_MASKS attribute "$d/store" "$d/store.txt" weights/fashion-vit.safetensors --data fashion-mnist:test
      coar edit --arch vit --weights weights/fashion-vit.safetensors --raise --max-drop 0.2 --max-k 16 --candidates 32 --each \
        --target "$d/store#index=@$d/target.txt" --reference "$d/store#index=@$d/reference.txt" \
        --val-reference "fashion-mnist:test#index=@$d/val_reference.txt" \
        --title "Fix test image (ViT)" --out "$d" --quiet ;;
    forget-class-vit)
      ARCH=vit N_MASKS=$VIT_MASKS attribute "$d/store" "$d/store.txt" weights/fashion-vit.safetensors --data fashion-mnist:test
      coar edit --arch vit --weights weights/fashion-vit.safetensors --lower --max-drop 1.5 \
        --target "$d/store#index=@$d/target.txt" --reference "$d/store#index=@$d/reference.txt" \
        --val-target "fashion-mnist:test#index=@$d/val_target.txt" --val-reference "fashion-mnist:test#index=@$d/val_reference.txt" \
        --title "Forget a class (ViT)" --out "$d/edit" --quiet ;;
    backdoor-vit)
      local w=weights/fashion-vit-backdoor.safetensors
      ARCH=vit N_MASKS=$VIT_MASKS attribute "$d/store-triggered" "$d/target.txt" "$w" --inputs "$d/triggered.npy" --labels "$d/labels.npy"
      ARCH=vit N_MASKS=$VIT_MASKS attribute "$d/store" "$d/reference.txt" "$w" --data fashion-mnist:test
      coar edit --arch vit --weights "$w" --raise --max-drop 0.8 --candidates 128 \
        --target "$d/store-triggered" --reference "$d/store" \
        --val-target "npy:$d/triggered.npy,$d/labels.npy#index=@$d/val_target.txt" --val-reference "fashion-mnist:test#index=@$d/val_reference.txt" \
        --title "Remove a backdoor (ViT)" --out "$d/edit" --quiet ;;
    *) echo "unknown study '$study': use fix-error, forget-class, backdoor, spurious, fix-error-vit, forget-class-vit, backdoor-vit or all" >&2; exit 1 ;;
  esac
}

what=${1:-all}
if [ "$what" = all ]; then studies=(fix-error forget-class backdoor spurious fix-error-vit forget-class-vit backdoor-vit); else studies=("$what"); fi
for s in "${studies[@]}"; do run_study "$s"; done
[ "${EVALUATE:-1}" = 0 ] && exit 0   # EVALUATE=0: edits only (several studies at once), evaluate later
# also updates the fixture test/edit.test.ts checks (edited files rebuilt, PyTorch's numbers
# reproduced): the studies evaluated now replace their entries, the others are kept
$PY case-studies/evaluate.py "$OUT" --update-fixture case-studies/results.json
node --import tsx case-studies/report.ts "$OUT"
