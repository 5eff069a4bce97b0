#!/usr/bin/env node
// Checks the replies of vmmon's management API against its OpenAPI document.
//
// Usage: node validate.js [--spec FILE] LOG...
//   LOG: JSON lines, one exchange each, as tests/integration/api_client.py records them:
//     {"method": "GET", "path": "/api/v1/vm.info", "status": 200, "body": "{...}"}
//   ("body" is the reply's body as text, "" when it had none; "content_type" may follow.)
//   --spec: the document (default: monitor/api/openapi/vmmon.yaml in this repository).
//
// For each exchange the operation is found by path (the server URL's path, /api/v1, removed;
// the query string ignored) and method. A request that matches no operation is held to the
// document's x-vmmon-unmatched-request responses. The status must be one the operation lists,
// or one of x-vmmon-any-request's (framing errors, which any request may get);
// a response with a JSON content needs a body that parses and validates against its schema,
// one without content needs an empty body. Each failure is one line on stdout:
//   LOG:LINE: METHOD PATH -> STATUS: why
// Exit status: 0 when every exchange passed, 1 when one failed, 2 on a usage or spec error.
"use strict";

const fs = require("fs");
const path = require("path");

function loadDeps() {
	try {
		return {
			Ajv: require("ajv"),
			addFormats: require("ajv-formats"),
			yaml: require("js-yaml"),
		};
	} catch (e) {
		console.error(
			"validate.js: " + e.message.split("\n")[0] +
				"\nvalidate.js: the validator's packages are not installed: run scripts/install-api-validator"
		);
		process.exit(2);
	}
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

// JSON pointer escaping (RFC 6901) for a path segment such as "/vm.info".
function ptr(seg) {
	return String(seg).replace(/~/g, "~0").replace(/\//g, "~1");
}

// Follows a local "#/..." $ref inside the document; returns [object, pointer].
function deref(doc, obj, where) {
	let seen = 0;
	while (obj && typeof obj.$ref === "string") {
		if (!obj.$ref.startsWith("#/") || ++seen > 16)
			throw new Error(where + ": cannot follow $ref " + obj.$ref);
		where = obj.$ref.slice(1);
		obj = obj.$ref
			.slice(2)
			.split("/")
			.map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
			.reduce((o, k) => (o === undefined ? undefined : o[k]), doc);
		if (obj === undefined) throw new Error("dangling $ref " + where);
	}
	return [obj, where];
}

class Spec {
	constructor(file) {
		const { Ajv, addFormats, yaml } = loadDeps();
		this.doc = yaml.load(fs.readFileSync(file, "utf8"));
		if (!this.doc || !/^3\.0\./.test(String(this.doc.openapi)))
			throw new Error(file + ": not an OpenAPI 3.0 document");
		const server = ((this.doc.servers || [])[0] || {}).url || "";
		this.base = server.replace(/^[a-z]+:\/\/[^/]*/i, "").replace(/\/$/, "");
		// OpenAPI 3.0 schemas are JSON Schema plus a few annotations; strict mode is kept off
		// only so that those (description, deprecated, example) pass.
		this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
		addFormats(this.ajv);
		for (const f of ["int16", "uint8", "uint16", "uint32"])
			this.ajv.addFormat(f, { type: "number", validate: Number.isInteger });
		this.ajv.addSchema(this.doc, "spec");
		this.validators = new Map();
	}

	// [responses object, its pointer, label] for METHOD on URL, or the unmatched-request set.
	operation(method, url) {
		let p = String(url).split("?")[0];
		if (this.base && p.startsWith(this.base + "/")) p = p.slice(this.base.length);
		else if (this.base) p = null; // outside the API's prefix: matches no operation
		const m = String(method).toLowerCase();
		const item = p !== null && this.doc.paths && this.doc.paths[p];
		if (item && METHODS.includes(m) && item[m])
			return [item[m].responses || {}, "/paths/" + ptr(p) + "/" + m + "/responses", null];
		const un = this.doc["x-vmmon-unmatched-request"];
		if (!un || !un.responses) return [null, null, "no such operation in the document"];
		return [un.responses, "/x-vmmon-unmatched-request/responses", "unmatched request"];
	}

	validator(pointer) {
		if (!this.validators.has(pointer))
			this.validators.set(pointer, this.ajv.compile({ $ref: "spec#" + pointer }));
		return this.validators.get(pointer);
	}

	// Why the exchange E does not conform, or null.
	check(e) {
		if (typeof e.method !== "string" || typeof e.path !== "string")
			return "the log entry has no method or path";
		if (!Number.isInteger(e.status)) return "the log entry has no status (no reply?)";
		let [responses, where, label] = this.operation(e.method, e.path);
		if (!responses) return label;
		const has = (rs) => rs && Object.keys(rs).find((k) => String(k) === String(e.status));
		let key = has(responses);
		const any = (this.doc["x-vmmon-any-request"] || {}).responses;
		if (key === undefined && has(any) !== undefined) {
			// A framing error (the request could not be read): any request may get one.
			[responses, where, key] = [any, "/x-vmmon-any-request/responses", has(any)];
		}
		if (key === undefined)
			return (
				"status " + e.status + " is not in the document for " +
				(label || "this operation") + " (it lists " + Object.keys(responses).join(", ") +
				(any ? "; any request: " + Object.keys(any).join(", ") : "") + ")"
			);
		const [resp, rwhere] = deref(this.doc, responses[key], where + "/" + ptr(key));
		const body = e.body === undefined || e.body === null ? "" : String(e.body);
		const json = resp.content && resp.content["application/json"];
		if (!json) {
			if (body.length) return "the document gives no body for " + e.status + ", got " + JSON.stringify(body.slice(0, 200));
			return null;
		}
		if (e.content_type !== undefined && !/^application\/json\b/i.test(String(e.content_type)))
			return "Content-Type " + JSON.stringify(e.content_type) + ", expected application/json";
		let value;
		try {
			value = JSON.parse(body);
		} catch (err) {
			return "the body is not JSON (" + err.message + "): " + JSON.stringify(body.slice(0, 200));
		}
		if (!json.schema) return null;
		const v = this.validator(rwhere + "/content/application~1json/schema");
		if (v(value)) return null;
		return v.errors
			.map((x) => (x.instancePath || "(body)") + " " + x.message +
				(x.params && x.params.additionalProperty ? ": " + x.params.additionalProperty : ""))
			.join("; ");
	}
}

function main(argv) {
	let spec = path.join(__dirname, "..", "..", "monitor", "api", "openapi", "vmmon.yaml");
	const logs = [];
	for (let i = 0; i < argv.length; i++) {
		if (argv[i] === "--spec" && i + 1 < argv.length) spec = argv[++i];
		else if (argv[i].startsWith("--spec=")) spec = argv[i].slice(7);
		else if (argv[i] === "-h" || argv[i] === "--help") {
			console.log("usage: validate.js [--spec FILE] LOG...");
			return 0;
		} else if (argv[i].startsWith("-")) {
			console.error("validate.js: unknown option " + argv[i]);
			return 2;
		} else logs.push(argv[i]);
	}
	if (!logs.length) {
		console.error("usage: validate.js [--spec FILE] LOG...");
		return 2;
	}
	let s;
	try {
		s = new Spec(spec);
	} catch (e) {
		console.error("validate.js: " + spec + ": " + e.message);
		return 2;
	}
	let total = 0;
	let failed = 0;
	for (const log of logs) {
		let text;
		try {
			text = fs.readFileSync(log, "utf8");
		} catch (e) {
			console.error("validate.js: " + e.message);
			return 2;
		}
		text.split("\n").forEach((line, i) => {
			if (!line.trim()) return;
			total++;
			let e;
			let why;
			try {
				e = JSON.parse(line);
				why = this_check(s, e);
			} catch (err) {
				e = {};
				why = "not a JSON exchange: " + err.message;
			}
			if (why) {
				failed++;
				console.log(log + ":" + (i + 1) + ": " + e.method + " " + e.path + " -> " + e.status + ": " + why);
			}
		});
	}
	if (!total) {
		console.log("validate.js: no exchange in " + logs.join(" ") + ": nothing was checked");
		return 1;
	}
	console.error("validate.js: " + (total - failed) + " of " + total + " replies conform to " + spec);
	return failed ? 1 : 0;
}

function this_check(s, e) {
	try {
		return s.check(e);
	} catch (err) {
		return "the document could not be applied: " + err.message;
	}
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
module.exports = { Spec };
