#!/usr/bin/env node
// Validates Forge manifest.yml files with Atlassian's own validator, the
// validate() function of the npm package @forge/manifest (the one `forge lint`
// uses), without credentials and without network access.
//
// usage: node validate.js [--json] [VALID.yml...] [--expect-invalid INVALID.yml...]
//
// Files before --expect-invalid must be valid: each problem is printed as
// "FILE:LINE:COLUMN: LEVEL: message (reference)" (warnings are printed but
// pass). Files after it must be refused: they are a corpus of manifests Forge
// has to reject, and only one that passes is reported. Exit 0 when every file
// met its expectation, 1 when one did not, 2 on bad usage or when something
// tried to use the network. One process validates all files, because loading
// the validator (its JSON schema) is most of the cost.
//
// Offline guarantee: before @forge/manifest is loaded, every way Node opens a
// connection or resolves a name (net/tls connect, http/https requests, dns,
// fetch) is replaced by a function that records the attempt and throws. Any
// attempt makes the run fail with exit 2, so CI proves that validation needs
// nothing but the installed package.
'use strict';

const fs = require('fs');
const path = require('path');

const networkAttempts = [];

function blockNetwork() {
  const deny = (what) =>
    function blocked() {
      networkAttempts.push(what);
      throw new Error(`forge-manifest-check: network access is not allowed (${what})`);
    };
  const net = require('net');
  const tls = require('tls');
  const http = require('http');
  const https = require('https');
  const dns = require('dns');
  net.connect = net.createConnection = deny('net.connect');
  net.Socket.prototype.connect = deny('net.Socket.connect');
  tls.connect = deny('tls.connect');
  for (const [name, mod] of [['http', http], ['https', https]]) {
    mod.request = deny(`${name}.request`);
    mod.get = deny(`${name}.get`);
  }
  for (const fn of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny']) {
    dns[fn] = deny(`dns.${fn}`);
    if (dns.promises && dns.promises[fn]) dns.promises[fn] = deny(`dns.promises.${fn}`);
  }
  globalThis.fetch = deny('fetch');
}

function usage(msg) {
  if (msg) process.stderr.write(`forge-manifest-check: ${msg}\n`);
  process.stderr.write('usage: node validate.js [--json] [VALID.yml...] [--expect-invalid INVALID.yml...]\n');
  return 2;
}

async function main(argv) {
  let asJSON = false;
  let expectValid = true;
  const files = []; // {file, expectValid}
  for (const a of argv) {
    if (a === '--json') asJSON = true;
    else if (a === '--expect-invalid') expectValid = false;
    else if (a === '-h' || a === '--help') return usage();
    else if (a.startsWith('-')) return usage(`unknown flag ${a}`);
    else files.push({ file: a, expectValid });
  }
  if (files.length === 0) return usage('no manifest given');
  for (const { file } of files) {
    if (!fs.existsSync(file)) return usage(`${file}: no such file`);
  }

  blockNetwork();
  const forgeManifest = require('@forge/manifest');
  const version = JSON.parse(
    fs.readFileSync(path.join(__dirname, 'node_modules', '@forge', 'manifest', 'package.json'), 'utf8'),
  ).version;

  const unmet = [];
  const report = [];
  let rejected = 0;
  for (const { file, expectValid } of files) {
    // validate(basic, manifestPath): basic=false runs the full processor:
    // YAML, JSON schema and every validator `forge lint` runs on the manifest.
    const res = await forgeManifest.validate(false, path.resolve(file));
    const problems = (res.errors || []).map((e) => ({
      line: e.line || 0,
      column: e.column || 0,
      level: e.level || 'error',
      message: e.message,
      reference: e.reference || '',
    }));
    const valid = res.success && !problems.some((p) => p.level === 'error');
    if (valid !== expectValid) unmet.push(file);
    report.push({ file, valid, expectValid, problems });
    if (asJSON) continue;
    if (!expectValid) {
      if (valid) process.stderr.write(`${file}: valid, but Forge should refuse it (@forge/manifest ${version})\n`);
      else rejected++;
      continue;
    }
    for (const p of problems) {
      const ref = p.reference ? ` (${p.reference})` : '';
      process.stdout.write(`${file}:${p.line}:${p.column}: ${p.level}: ${p.message}${ref}\n`);
    }
    if (!res.success && problems.length === 0) {
      process.stdout.write(`${file}:0:0: error: validation failed without a message\n`);
    }
    process.stderr.write(`${file}: ${valid ? 'valid' : 'INVALID'} (@forge/manifest ${version}, ${problems.length} problem(s))\n`);
  }
  if (asJSON) {
    process.stdout.write(JSON.stringify({ validator: `@forge/manifest@${version}`, files: report }, null, 2) + '\n');
  } else if (rejected > 0) {
    process.stderr.write(`${rejected} manifest(s) refused as expected (@forge/manifest ${version})\n`);
  }
  if (networkAttempts.length > 0) {
    process.stderr.write(`forge-manifest-check: the validator tried to use the network: ${networkAttempts.join(', ')}\n`);
    return 2;
  }
  return unmet.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`forge-manifest-check: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = networkAttempts.length > 0 ? 2 : 1;
  },
);
