#!/usr/bin/env node
// Checks that monitor/api/openapi/vmmon.yaml lists exactly the VmConfig keys that
// monitor/api/vmconfig.c reads, schema by schema: a key the server reads (and so accepts, at
// some value) must be in the document, and a key the document lists must be read (the server
// refuses any key it did not read as unknown).
//
// Usage: node doc-keys.js [--spec FILE] [--source FILE]
// The keys are the string literals vmconfig.c passes to its readers (get, get_str, get_bool,
// get_uint, only_*, console_mode) and its key lists ((const char *const[]){...}), gathered per
// function; FUNCS below says which schemas each function reads. One line per mismatch; exit 1
// on any, 2 when a file cannot be read or a function named in FUNCS is gone.
"use strict";

const fs = require("fs");
const path = require("path");

// function in vmconfig.c -> the schemas whose keys it reads
const FUNCS = {
	take_id: ["DiskConfig", "NetConfig", "RngConfig"],
	device_noops: ["DiskConfig", "NetConfig", "RngConfig", "ConsoleConfig"],
	io_device_noops: ["DiskConfig", "NetConfig"],
	disk: ["DiskConfig"],
	net_fields: ["NetConfig"],
	payload: ["PayloadConfig"],
	cpus: ["CpusConfig"],
	memory: ["MemoryConfig"],
	console_mode: ["SerialConfig", "ConsoleConfig"],
	rng: ["RngConfig"],
	devices: ["VmConfig"],
	top_noops: ["VmConfig"],
	parse_top: ["VmConfig"],
};
// Keys vmconfig.c reads only to refuse them with a pointed message, and which are not in Cloud
// Hypervisor's document either ("Schema.key": why). None now: NetConfig.fds, which Cloud
// Hypervisor's document leaves out, is served (its count names the SCM_RIGHTS descriptors) and
// so listed in vmmon.yaml.
const NOT_IN_DOC = {};
// A reader called on the object above a function's own (get(top, "cpus")) names a VmConfig key.
const TOP_READ = /\b(?:get|get_str|get_bool|get_uint|only_bool|only_str|only_uint|only_empty|console_mode)\(\s*top\s*,\s*"([a-z0-9_]+)"/g;
const READ = /\b(?:get|get_str|get_bool|get_uint|only_bool|only_str|only_uint|only_empty)\(\s*&?[a-z]+\s*,\s*"([a-z0-9_]+)"/g;
const LIST = /(?:\(const char \*const\[\]\)|lists\[\]\s*=\s*)\{([^}]*)\}/g;

function functions(src) {
	const out = {};
	const re = /^(?:static )?(?:int|void|bool) \*?([a-z_]+)\(/gm;
	const heads = [...src.matchAll(re)];
	heads.forEach((m, i) => {
		out[m[1]] = src.slice(m.index, i + 1 < heads.length ? heads[i + 1].index : src.length);
	});
	return out;
}

function main(argv) {
	const repo = path.join(__dirname, "..", "..");
	let spec = path.join(repo, "monitor", "api", "openapi", "vmmon.yaml");
	let source = path.join(repo, "monitor", "api", "vmconfig.c");
	for (let i = 0; i < argv.length; i += 2) {
		if (argv[i] === "--spec") spec = argv[i + 1];
		else if (argv[i] === "--source") source = argv[i + 1];
		else {
			console.error("usage: doc-keys.js [--spec FILE] [--source FILE]");
			return 2;
		}
	}
	let yaml;
	try {
		yaml = require("js-yaml");
	} catch (e) {
		console.error("doc-keys.js: js-yaml is not installed: run scripts/install-api-validator");
		return 2;
	}
	const doc = yaml.load(fs.readFileSync(spec, "utf8"));
	const src = fs.readFileSync(source, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
	const funcs = functions(src);
	const read = {}; // schema -> Set of keys
	const add = (schemas, key) => schemas.forEach((s) => (read[s] = read[s] || new Set()).add(key));
	for (const [fn, schemas] of Object.entries(FUNCS)) {
		const body = funcs[fn];
		if (body === undefined) {
			console.error("doc-keys.js: " + source + " has no function " + fn + "(): update FUNCS");
			return 2;
		}
		for (const m of body.matchAll(TOP_READ)) add(["VmConfig"], m[1]);
		for (const m of body.matchAll(READ)) if (!/\(\s*top\s*,/.test(m[0])) add(schemas, m[1]);
		for (const m of body.matchAll(LIST))
			for (const k of m[1].matchAll(/"([a-z0-9_]+)"/g)) add(schemas, k[1]);
	}
	let bad = 0;
	const schemas = doc.components.schemas;
	for (const name of Object.keys(read).sort()) {
		const props = Object.keys((schemas[name] || {}).properties || {});
		for (const k of [...read[name]].sort())
			if (!props.includes(k) && !NOT_IN_DOC[name + "." + k]) {
				console.log(name + "." + k + ": read by vmconfig.c, missing from " + path.basename(spec));
				bad++;
			}
		for (const k of props.sort())
			if (!read[name].has(k)) {
				console.log(name + "." + k + ": in " + path.basename(spec) + ", never read by vmconfig.c (refused as unknown)");
				bad++;
			}
	}
	const n = Object.values(read).reduce((a, s) => a + s.size, 0);
	console.log(bad ? bad + " mismatch(es)" : "doc-keys: " + n + " keys of " + Object.keys(read).length + " schemas agree");
	return bad ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
