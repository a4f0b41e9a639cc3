#!/usr/bin/env bash
# Cross-checks the manifests `connect-doctor manifest` generates with
# Atlassian's own validator, validate() from the npm package @forge/manifest
# (pinned in tools/forge-manifest-check/package-lock.json), offline.
#
#  1. npm ci (the only step that uses the network: the npm registry);
#  2. generate manifest.yml in both modes with a dummy app id and base URL;
#  3. validate them (and the golden files) with @forge/manifest, with every network API blocked inside
#     Node and, where user namespaces are allowed, in a network namespace with
#     no interfaces; also run our own Go checker on them;
#  4. the admin panel's Custom UI bundle (forge/customui/static/admin, the
#     resource the generated manifest points at) is rebuilt from web/panel/src
#     with the pinned @forge/bridge and esbuild (web/panel/package-lock.json)
#     and must equal the committed files; it then stands next to every
#     manifest validated here, as Forge needs it;
#  5. the converter (`connect-doctor to-forge`): the module table
#     forge/manifest/data/forge-schema.json must equal what the pinned
#     @forge/manifest says (tools/forge-manifest-check/module-table.js
#     --check), and every manifest converted from the descriptor corpus
#     (forge/manifest/testdata/descriptors, written by TestDescriptorCorpus)
#     must pass validate(), in the same single node process as the rest;
#  6. negative controls: a generated manifest with a property Forge refuses
#     must fail, and so must every file in forge/manifest/testdata/rejected
#     (each named after the code the Go checker reports for it; the Go test
#     TestCheckAgreesWithForgeValidator checks that side), so neither a
#     validator that accepts everything nor a drift between the two checkers
#     can pass CI.
#
# Fails on any error. About 10 s after `npm ci` on an idle machine (27 s with
# the load average at 10 on 2 cores); the 60 s timeout guards the validator.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
tool=tools/forge-manifest-check

log() { printf '\n==> [%ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "installing Node.js"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "forge-manifest-check: Node.js $(node --version) is too old; @forge/manifest needs Node.js 20 or later" >&2
  exit 1
fi

log "npm ci ($tool)"
(cd "$tool" && npm ci --no-audit --no-fund --loglevel=error)
echo "@forge/manifest $(node -p "require('./$tool/node_modules/@forge/manifest/package.json').version")"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log "npm ci (web/panel) and rebuild check of the committed panel bundles"
(cd web/panel && npm ci --no-audit --no-fund --loglevel=error && node build.mjs --check)
echo "@forge/bridge $(node -p "require('./web/panel/node_modules/@forge/bridge/package.json').version"), esbuild $(node -p "require('./web/panel/node_modules/esbuild/package.json').version")"

log "building connect-doctor"
go build -o "$work/connect-doctor" ./cmd/connect-doctor

log "generating manifests"
# A fixed, dummy configuration: the output must not depend on the CI
# machine's environment.
gen() { # mode dir
  mkdir -p "$work/$2"
  env -u APP_KEY -u CONNECT_SCOPES -u PORT -u CATALOG_FILE \
    FORGE_APP_ID=11111111-2222-3333-4444-555555555555 BASE_URL=https://doctor.example.com \
    "$work/connect-doctor" manifest --mode "$1" -o "$work/$2/manifest.yml"
}
gen forge forge
gen connect-on-forge connect-on-forge
# Forge resolves resources[].path next to manifest.yml and needs the Custom
# UI bundle there (index.html): the committed, just verified bundle.
cp -R forge/customui/static "$work/forge/"
test -f "$work/forge/static/admin/index.html"

# The generator's golden files (forge/manifest/testdata/*.yml) too.
mkdir -p "$work/golden"
cp forge/manifest/testdata/*.yml "$work/golden/"
cp -R forge/customui/static "$work/golden/"

# Negative control: Forge refuses apiMigrations at the top level.
mkdir -p "$work/negative"
cp "$work/connect-on-forge/manifest.yml" "$work/negative/manifest.yml"
printf 'apiMigrations:\n  signed-install: true\n' >> "$work/negative/manifest.yml"

offline() {
  # No network at all where user namespaces are allowed; validate.js also
  # blocks Node's network APIs itself and fails if anything tries them.
  if unshare -rn true 2>/dev/null; then
    unshare -rn "$@"
  else
    "$@"
  fi
}

log "module table vs the pinned @forge/manifest"
node "$tool/module-table.js" --check forge/manifest/data/forge-schema.json
# Negative control: a table missing one module type must be caught.
grep -v '"jiraJqlFunctions"' forge/manifest/data/forge-schema.json > "$work/forge-schema-drift.json"
if node "$tool/module-table.js" --check "$work/forge-schema-drift.json" 2>/dev/null; then
  echo "module-table.js --check accepted a table without jiraJqlFunctions" >&2
  exit 1
fi

log "converting the descriptor corpus (to-forge)"
CORPUS_OUT="$work/corpus" go test -count=1 -run '^TestDescriptorCorpus$' ./forge/manifest
corpus=("$work"/corpus/*/manifest.yml)
echo "${#corpus[@]} converted manifest(s)"
test "${#corpus[@]}" -ge 40

log "connect-doctor manifest --check (Go checker) on the generated files"
for m in forge connect-on-forge; do
  "$work/connect-doctor" manifest --check "$work/$m/manifest.yml"
done

log "@forge/manifest validate(), offline"
# Must be valid: the generated manifests and the generator's golden files.
# Must be refused: the generated manifest plus apiMigrations, and
# forge/manifest/testdata/rejected.
offline timeout 60 node "$tool/validate.js" \
  "$work/forge/manifest.yml" "$work/connect-on-forge/manifest.yml" "$work"/golden/*.yml "${corpus[@]}" \
  --expect-invalid "$work/negative/manifest.yml" forge/manifest/testdata/rejected/*.yml

log "forge manifest cross-check passed in $(( $(date +%s) - start )) s"
