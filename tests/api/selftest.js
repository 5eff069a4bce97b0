#!/usr/bin/env node
// validate.js on hand-written replies: each good one must pass, each bad one must be reported
// on its own line with the reason given here, and the exit status must say which happened.
// Usage: node selftest.js [--spec FILE]   (meson: test api-validator-selftest)
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawnSync } = require("child_process");

const VALIDATE = path.join(__dirname, "validate.js");
const A = "/api/v1/";

const config = {
	payload: { kernel: "/tmp/guest.elf", cmdline: "run=blktest" },
	cpus: { boot_vcpus: 2, max_vcpus: 2 },
	memory: { size: 536870912, shared: true },
	disks: [{ path: "/tmp/d.img", readonly: false, direct: false, num_queues: 1, vhost_user: false, id: "disk0", serial: "vmmon0" }],
	net: [{ tap: "vtap0", mac: "52:54:00:12:34:56", num_queues: 2, vhost_user: false, id: "net0" }],
	rng: { src: "/dev/urandom", id: "rng0" },
	serial: { mode: "File", file: "/tmp/serial.log" },
	console: { mode: "Off" },
};
const counters = {
	disk0: { read_bytes: 4096, write_bytes: 8192, read_ops: 1, write_ops: 2, exits: 3, interrupts: 4 },
	net0: { rx_bytes: 84, rx_frames: 1, tx_bytes: 84, tx_frames: 1, exits: 1, interrupts: 1 },
};
const j = JSON.stringify;
const ex = (method, endpoint, status, body, extra) =>
	Object.assign({ method, path: A + endpoint, status, body: body === undefined ? "" : body }, extra || {});

const GOOD = [
	ex("GET", "vmm.ping", 200, j({ version: "0.1.0", pid: 42, features: ["kvm"] }), { content_type: "application/json" }),
	ex("GET", "vmm.ping", 200, j({ build_version: "v0", version: "0.1.0" })),
	ex("PUT", "vm.create", 204),
	ex("PUT", "vm.create", 400, j(["unknown field cpus.foo", "invalid VmConfig"])),
	ex("PUT", "vm.create", 409, j(["disks[1].id: a device with id \"disk0\" exists", "invalid VmConfig"])),
	ex("PUT", "vm.create", 500, j(["the VM is already created", "cannot create the VM"])),
	ex("PUT", "vm.boot", 204),
	ex("PUT", "vm.boot", 404, j(["no VM: create one first"])),
	ex("GET", "vm.info", 200, j({ config, state: "Running" })),
	ex("GET", "vm.info", 200, j({ config: { payload: { kernel: "k" } }, state: "Paused", memory_actual_size: 1 })),
	ex("GET", "vm.info", 200, j({ config: Object.assign({}, config, { serial: { mode: "File", file: "/tmp/serial.log" }, iommu: false, memory: { size: 1 << 29, shared: true, hugepages: false, zones: [] } }), state: "Created" })),
	ex("GET", "vm.info?x=1", 404, j(["no VM"])),
	ex("GET", "vm.counters", 200, j(counters)),
	ex("GET", "vm.counters", 200, j({})),
	ex("PUT", "vm.pause", 204),
	ex("PUT", "vm.pause", 500, j(["the VM is already paused"])),
	ex("PUT", "vm.resume", 204),
	ex("PUT", "vm.shutdown", 204),
	ex("PUT", "vm.reboot", 204),
	ex("PUT", "vm.power-button", 204),
	ex("PUT", "vm.delete", 204),
	ex("PUT", "vm.add-disk", 204),
	ex("PUT", "vm.add-net", 409, j(["duplicate id net0"])),
	ex("PUT", "vm.add-disk", 500, j(["hot plug is not supported yet"])),
	ex("PUT", "vm.snapshot", 500, j(["vm.snapshot is not supported yet"])),
	ex("PUT", "vmm.shutdown", 204),
	ex("GET", "vm.add-sgx-epc", 404, j(["no such endpoint"])),
	ex("GET", "vm.create", 400, j(["wrong method GET for vm.create"])),
	ex("POST", "vm.boot", 400, j(["wrong method"])),
	ex("GET", "/../x", 400, j(["bad request"])),
	ex("GET", "vmm.ping", 431, j(["request header fields too large: over 16 KiB"])),
	ex("PUT", "vm.pause", 411, j(["chunked bodies are not accepted"])),
	ex("PUT", "nope", 413, j(["request body too large"])),
];

// [exchange, the reason validate.js must give]
const BAD = [
	[ex("GET", "vmm.ping", 200, j({ pid: 1 })), "must have required property 'version'"],
	[ex("GET", "vmm.ping", 200, j({ version: 1 })), "/version must be string"],
	[ex("GET", "vmm.ping", 200, j({ version: "1", colour: "red" })), "must NOT have additional properties: colour"],
	[ex("GET", "vmm.ping", 200, "{\"version\":"), "the body is not JSON"],
	[ex("GET", "vmm.ping", 200, j({ version: "1" }), { content_type: "text/plain" }), "Content-Type \"text/plain\""],
	[ex("GET", "vmm.ping", 201, j({ version: "1" })), "status 201 is not in the document"],
	[ex("PUT", "vm.boot", 204, "{}"), "the document gives no body for 204"],
	[ex("PUT", "vm.boot", 200, j({ version: "1" })), "status 200 is not in the document"],
	[ex("PUT", "vm.boot", 404, "no VM"), "the body is not JSON"],
	[ex("PUT", "vm.boot", 404, j("no VM")), "(body) must be array"],
	[ex("PUT", "vm.boot", 404, j([])), "(body) must NOT have fewer than 1 items"],
	[ex("PUT", "vm.boot", 404, j([1, "x"])), "/0 must be string"],
	[ex("PUT", "vm.boot", 404, j({ error: "no VM" })), "(body) must be array"],
	[ex("GET", "vm.info", 200, j({ config })), "must have required property 'state'"],
	[ex("GET", "vm.info", 200, j({ config, state: "BreakPoint" })), "/state must be equal to one of the allowed values"],
	[ex("GET", "vm.info", 200, j({ config: Object.assign({}, config, { iommu: true }), state: "Running" })), "/config/iommu must be equal to one of the allowed values"],
	[ex("GET", "vm.info", 200, j({ config: Object.assign({}, config, { balloon: { size: 1 } }), state: "Running" })), "/config must NOT have additional properties: balloon"],
	[ex("GET", "vm.info", 200, j({ config: Object.assign({}, config, { fs: [{ tag: "t" }] }), state: "Running" })), "/config/fs must NOT have more than 0 items"],
	[ex("GET", "vm.info", 200, j({ config: Object.assign({}, config, { disks: [{ path: "x", pci_device_id: 3 }] }), state: "Running" })), "/config/disks/0/pci_device_id must be equal to one of the allowed values"],
	[ex("GET", "vm.info", 200, j({ config: Object.assign({}, config, { cpus: { boot_vcpus: 1 } }), state: "Running" })), "/config/cpus must have required property 'max_vcpus'"],
	[ex("GET", "vm.info", 200, j({ config: Object.assign({}, config, { disks: [{ path: "x", queue_size: 64 }] }), state: "Running" })), "/config/disks/0/queue_size must be equal to one of the allowed values"],
	[ex("GET", "vm.info", 200, j({ config: Object.assign({}, config, { serial: { mode: "Pty" } }), state: "Running" })), "/config/serial/mode must be equal to one of the allowed values"],
	[ex("GET", "vm.info", 200, j({ config: Object.assign({}, config, { serial: { mode: "Tcp" } }), state: "Running" })), "/config/serial/mode must be equal to one of the allowed values"],
	[ex("GET", "vm.info", 200, j({ config: { cpus: { boot_vcpus: 1, max_vcpus: 1 } }, state: "Running" })), "/config must have required property 'payload'"],
	[ex("GET", "vm.counters", 200, j({ disk0: { read_bytes: -1 } })), "/disk0/read_bytes must be >= 0"],
	[ex("GET", "vm.counters", 200, j({ disk0: { read_bytes: 1.5 } })), "/disk0/read_bytes must be integer"],
	[ex("GET", "vm.counters", 200, j({ disk0: { reads: 1 } })), "/disk0 must NOT have additional properties: reads"],
	[ex("GET", "vm.counters", 200, j({ disk0: 3 })), "/disk0 must be object"],
	[ex("GET", "nope", 200, j({ version: "1" })), "status 200 is not in the document for unmatched request"],
	[ex("GET", "nope", 500, j(["x"])), "status 500 is not in the document for unmatched request"],
	[ex("POST", "vm.boot", 405, j(["wrong method"])), "status 405 is not in the document for unmatched request"],
	[ex("PUT", "vm.pause", 405, j(["the VM is already paused"])), "status 405 is not in the document for this operation"],
	[ex("PUT", "vm.info", 204), "status 204 is not in the document for unmatched request"],
	[ex("GET", "/other/vmm.ping", 200, j({ version: "1" })), "unmatched request"],
	[{ method: "GET", path: A + "vmm.ping", body: "" }, "no status"],
	[ex("PUT", "vm.pause", 418, j(["teapot"])), "status 418 is not in the document for this operation"],
	[ex("PUT", "vm.pause", 413, ""), "the body is not JSON"],
];

function run(lines, args) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vmmon-api-selftest."));
	const log = path.join(dir, "exchanges.jsonl");
	fs.writeFileSync(log, lines.map((e) => j(e)).join("\n") + "\n");
	const r = spawnSync(process.execPath, [VALIDATE].concat(args, [log]), { encoding: "utf8" });
	fs.rmSync(dir, { recursive: true, force: true });
	return r;
}

function main() {
	const args = process.argv.slice(2);
	let failures = 0;
	const fail = (why) => {
		failures++;
		console.log("FAIL: " + why);
	};

	const good = run(GOOD, args);
	if (good.status === 2) {
		// validate.js could not start (packages missing, the document unreadable): one line.
		console.log("FAIL: validate.js did not run:\n" + good.stderr);
		return 1;
	}
	if (good.status !== 0) fail("good replies: exit " + good.status + ", expected 0:\n" + good.stdout + good.stderr);
	else console.log("ok: " + GOOD.length + " good replies pass");

	const bad = run(BAD.map((b) => b[0]), args);
	if (bad.status !== 1) fail("bad replies: exit " + bad.status + ", expected 1:\n" + bad.stderr);
	const out = bad.stdout.split("\n").filter((l) => l);
	if (out.length !== BAD.length) fail(out.length + " failure lines for " + BAD.length + " bad replies:\n" + bad.stdout);
	BAD.forEach(([e, want], i) => {
		const line = out.find((l) => l.includes(".jsonl:" + (i + 1) + ": "));
		if (!line) fail("bad reply " + (i + 1) + " (" + e.method + " " + e.path + ") was not reported");
		else if (!line.includes(want)) fail("bad reply " + (i + 1) + ": expected " + j(want) + " in: " + line);
	});
	if (!failures) console.log("ok: " + BAD.length + " bad replies each reported with its reason");

	// Every bad reply among good ones is still caught, one at a time: one log each, all given
	// to one run of validate.js (one run each would start node and compile the schemas 37 times).
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vmmon-api-selftest."));
	const logs = BAD.map(([e], i) => {
		const log = path.join(dir, "mixed" + i + ".jsonl");
		fs.writeFileSync(log, GOOD.concat([e]).map((x) => j(x)).join("\n") + "\n");
		return log;
	});
	const mixed = spawnSync(process.execPath, [VALIDATE].concat(args, logs), { encoding: "utf8" });
	fs.rmSync(dir, { recursive: true, force: true });
	if (mixed.status !== 1) fail("bad replies among the good ones: exit " + mixed.status + ", expected 1");
	const lines = mixed.stdout.split("\n").filter((l) => l);
	logs.forEach((log, i) => {
		const mine = lines.filter((l) => l.startsWith(log + ":"));
		if (mine.length !== 1 || !mine[0].startsWith(log + ":" + (GOOD.length + 1) + ": "))
			fail("bad reply " + (i + 1) + " among the good ones: " + mine.length + " failure lines:\n" + mine.join("\n"));
	});

	const empty = run([], args);
	if (empty.status !== 1) fail("an empty log: exit " + empty.status + ", expected 1");
	const usage = spawnSync(process.execPath, [VALIDATE], { encoding: "utf8" });
	if (usage.status !== 2) fail("no log given: exit " + usage.status + ", expected 2");

	console.log(failures ? failures + " check(s) failed" : "validate.js selftest: all checks passed");
	return failures ? 1 : 0;
}

process.exitCode = main();
