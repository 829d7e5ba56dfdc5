#!/bin/sh
# Run in the Dockerfile's build stage with a service's production node_modules in $1/node_modules: adds beside it
# each workspace those link to (node_modules/@totp-custody/<name> -> ../../<folder>), as its package.json and
# compiled dist without type declarations or source maps (the sources are not in the image), and proto/, where the
# contract package finds the service definition for gRPC reflection.
set -eu
out=$1
cp -a proto "$out/"
for link in "$out"/node_modules/@totp-custody/*; do
  dir=$(readlink "$link")
  dir=${dir#../../}
  mkdir -p "$out/$dir"
  cp -a "$dir/package.json" "$dir/dist" "$out/$dir/"
  find "$out/$dir/dist" -type f \( -name '*.d.ts' -o -name '*.map' -o -name '*.tsbuildinfo' \) -delete
done
