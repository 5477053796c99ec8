// The built executable's entry (scripts/build-agent.ts): a few lines that run either the BGP
// commands' bundle (bgp-bin.ts) or the whole agent's (bin.ts), both kept in the executable as
// assets. V8 parses and holds every script it runs, so the standalone speaker no longer carries
// the rest of the agent (about 27 MB). Each bundle comes with V8's code cache made at build time,
// as Node's own single-executable code cache would be for a main script.
// First: the heap's settings, before the bundle's code runs.
import './young-generation.ts';
import { createRequire } from 'node:module';
import path from 'node:path';
import { getAsset, getRawAsset } from 'node:sea';
import { Script } from 'node:vm';
import { BGP_COMMANDS } from './bgp-commands.ts';

const part = BGP_COMMANDS.has(process.argv[2] ?? '') ? 'bgp' : 'agent';
const code = getAsset(`${part}.cjs`, 'utf8');
// The cache as it lies in the executable (getAsset would copy it first); an ArrayBuffer (the types allow a string).
const cachedData = Buffer.from(getRawAsset(`${part}.cache`) as ArrayBuffer);
// The asset is a CommonJS module already wrapped in its function (the build made the cache for exactly this text).
const script = new Script(code, { filename: path.join(path.dirname(process.execPath), `${part}.cjs`), cachedData });
const run = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;
const module = { exports: {} };
// __filename is the executable, as in a single-executable main script: the agent finds its native
// parts beside it (native/build/Release), and require() loads them from disk.
run(module.exports, createRequire(process.execPath), module, process.execPath, path.dirname(process.execPath));
