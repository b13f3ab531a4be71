// verify.js: the privacy center's proof marks, computed by the member's
// browser itself, rather than on the server's word (the key and the
// checkpoint still come from the server: see the page's text).
//
// For each row of the table[data-verify] (one access event), it reads the
// event from GET /api/v1/me/access (the log entry's bytes and an RFC 6962
// inclusion proof against the signed checkpoint the response carries) and
// the log key from GET /log/key, then checks, with WebCrypto only:
//
//   1. the entry decodes (docs/log-format.md) and says what the row says;
//   2. leaf = SHA-256(0x00 || entry), then the proof folded up to a root
//      (RFC 9162 section 2.1.3.2), equals the checkpoint's root;
//   3. the checkpoint is a note signed by the log key (Ed25519), and its
//      origin is the key's name;
//   4. the public checkpoint at /log/checkpoint, when it has the same size,
//      has the same root (no fork shown to this member alone);
//   5. when the table names witnesses (data-witnesses: their cosignature/v1
//      verifier keys, data-quorum: how many must have cosigned), the
//      checkpoint carries valid cosignatures (C2SP tlog-cosignature) from at
//      least a quorum of them: a split view would need them all to lie.
//
// A row is "verified" when all hold, "proof checked, signature not checked"
// when the browser has no Ed25519, "waiting for the log" before a signed
// checkpoint covers the event, and "not verified" on any mismatch. Each row
// carries its verdict in data-verified (verified, partial, waiting, failed,
// unchecked); #verify-status says in words what was checked, and gets
// data-done="true" once no row waits any more (it re-checks every few
// seconds while one does). Text goes in with textContent only.
(function () {
	"use strict";

	var table = document.querySelector("table[data-verify]");
	var status = document.getElementById("verify-status");
	if (!table || !status) {
		return;
	}
	var rows = new Map();
	var lo = Infinity;
	var hi = 0;
	table.querySelectorAll("tbody tr[data-event]").forEach(function (tr) {
		rows.set(tr.dataset.event, tr);
		var c = Number(tr.dataset.counter);
		lo = Math.min(lo, c);
		hi = Math.max(hi, c);
	});
	if (rows.size === 0) {
		return;
	}

	var subtle = window.crypto && window.crypto.subtle;
	var utf8 = new TextEncoder();
	var fromUTF8 = new TextDecoder("utf-8", { fatal: true });
	var pageLimit = 200; // glasshouse.MaxPageSize
	var maxRetries = 20; // re-checks while events wait for the log
	var retryEvery = 3000;
	var witnesses = null; // the log's witnesses, parsed from data-witnesses
	var quorum = 0;

	// Bytes.

	function fromBase64(s) {
		var bin = atob(s);
		var b = new Uint8Array(bin.length);
		for (var i = 0; i < bin.length; i++) {
			b[i] = bin.charCodeAt(i);
		}
		return b;
	}

	function toHex(b) {
		return Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
	}

	function concat(parts) {
		var n = parts.reduce(function (sum, p) { return sum + p.length; }, 0);
		var out = new Uint8Array(n);
		var at = 0;
		parts.forEach(function (p) { out.set(p, at); at += p.length; });
		return out;
	}

	function equal(a, b) {
		if (a.length !== b.length) {
			return false;
		}
		for (var i = 0; i < a.length; i++) {
			if (a[i] !== b[i]) {
				return false;
			}
		}
		return true;
	}

	async function sha256(parts) {
		return new Uint8Array(await subtle.digest("SHA-256", concat(parts)));
	}

	// RFC 6962 hashes: leaves SHA-256(0x00 || entry), nodes
	// SHA-256(0x01 || left || right).
	function leafHash(entry) {
		return sha256([Uint8Array.of(0), entry]);
	}

	function nodeHash(left, right) {
		return sha256([Uint8Array.of(1), left, right]);
	}

	// rootFromProof follows an inclusion proof from the leaf at index up to
	// the root of a tree of size leaves (RFC 9162, section 2.1.3.2).
	async function rootFromProof(index, size, leaf, proof) {
		if (!(index < size)) {
			throw new Error("the index is outside the checkpoint's tree");
		}
		var fn = BigInt(index);
		var sn = BigInt(size) - 1n;
		var r = leaf;
		for (var i = 0; i < proof.length; i++) {
			var p = proof[i];
			if (sn === 0n || p.length !== 32) {
				throw new Error("the proof has a wrong shape");
			}
			if ((fn & 1n) === 1n || fn === sn) {
				r = await nodeHash(p, r);
				while ((fn & 1n) === 0n && fn !== 0n) {
					fn >>= 1n;
					sn >>= 1n;
				}
			} else {
				r = await nodeHash(r, p);
			}
			fn >>= 1n;
			sn >>= 1n;
		}
		if (sn !== 0n) {
			throw new Error("the proof is too short");
		}
		return r;
	}

	// decodeEntry reads a version 1 log entry (docs/log-format.md).
	function decodeEntry(b) {
		var i = 0;
		function take(n) {
			if (i + n > b.length) {
				throw new Error("the entry is truncated");
			}
			var s = b.subarray(i, i + n);
			i += n;
			return s;
		}
		function u8() { return take(1)[0]; }
		function u32() {
			var s = take(4);
			return ((s[0] * 256 + s[1]) * 256 + s[2]) * 256 + s[3];
		}
		function u64() {
			return take(8).reduce(function (v, x) { return v * 256n + BigInt(x); }, 0n);
		}
		function str8() { return fromUTF8.decode(take(u8())); }

		if (u8() !== 1) {
			throw new Error("the entry has an unknown version");
		}
		var e = { eventID: toHex(take(16)), time: String(u64()), client: str8(), agreement: u32(), endpoint: str8(), scopes: [] };
		for (var n = u8(); n > 0; n--) {
			e.scopes.push(str8());
		}
		var d = u8();
		if (d !== 1 && d !== 2) {
			throw new Error("the entry has an unknown decision");
		}
		e.decision = d === 1 ? "granted" : "denied";
		e.reason = str8();
		e.items = String(u32());
		take(32); // the member tag: only the member's key speaks for it
		if (i !== b.length) {
			throw new Error("the entry has trailing bytes");
		}
		return e;
	}

	// rowMismatch returns what the entry says differently from the row, or
	// "" when it says the same.
	function rowMismatch(tr, e, index) {
		var d = tr.dataset;
		if (d.index !== undefined && d.index !== String(index)) {
			return "its log index is " + index + ", not " + d.index;
		}
		var fields = [
			["event id", e.eventID, d.event],
			["time", e.time, d.time],
			["app", e.client, d.client],
			["endpoint", e.endpoint, d.endpoint],
			["scopes", e.scopes.join(" "), d.scopes],
			["decision", e.decision, d.decision],
			["reason", e.reason, d.reason],
			["items", e.items, d.items],
		];
		for (var k = 0; k < fields.length; k++) {
			if (fields[k][1] !== fields[k][2]) {
				return "the entry's " + fields[k][0] + " is \u201c" + fields[k][1] + "\u201d, the row's \u201c" + fields[k][2] + "\u201d";
			}
		}
		return "";
	}

	// Keys and signed notes (C2SP signed-note, golang.org/x/mod/sumdb/note).

	// parseKey reads a verifier key "<name>+<hash>+<base64(0x01 || key)>"
	// and checks that its hash is SHA-256(name || "\n" || 0x01 || key)[:4].
	async function parseKey(text) {
		text = text.trim();
		var i = text.indexOf("+");
		var j = text.indexOf("+", i + 1);
		if (i <= 0 || j < 0) {
			throw new Error("the log key is not a note verifier key");
		}
		var name = text.slice(0, i);
		var raw = fromBase64(text.slice(j + 1));
		if (raw.length !== 33 || raw[0] !== 1) {
			throw new Error("the log key is not an Ed25519 key");
		}
		var hash = (await sha256([utf8.encode(name + "\n"), raw])).slice(0, 4);
		if (toHex(hash) !== text.slice(i + 1, j)) {
			throw new Error("the log key's hash does not match the key");
		}
		return { id: name + "+" + toHex(hash), name: name, hash: hash, pub: raw.slice(1) };
	}

	// parseWitnessKey reads a witness's verifier key
	// "<name>+<hash>+<base64(0x04 || key)>" (C2SP tlog-cosignature), its
	// hash SHA-256(name || "\n" || 0x04 || key)[:4].
	async function parseWitnessKey(text) {
		var i = text.indexOf("+");
		var j = text.indexOf("+", i + 1);
		var raw = i > 0 && j > 0 ? fromBase64(text.slice(j + 1)) : new Uint8Array(0);
		if (raw.length !== 33 || raw[0] !== 4) {
			throw new Error("a witness key is not a cosignature/v1 key");
		}
		var name = text.slice(0, i);
		var hash = (await sha256([utf8.encode(name + "\n"), raw])).slice(0, 4);
		if (toHex(hash) !== text.slice(i + 1, j)) {
			throw new Error("a witness key's hash does not match the key");
		}
		return { name: name, hash: hash, pub: raw.slice(1) };
	}

	// cosigners returns the names of the witnesses whose cosignature/v1
	// line on cp verifies: an Ed25519 signature, after an 8-byte timestamp,
	// over "cosignature/v1\ntime <timestamp>\n" and the checkpoint's text.
	async function cosigners(cp, witnesses) {
		var names = [];
		for (var k = 0; k < witnesses.length; k++) {
			var w = witnesses[k];
			var s = cp.sigs.find(function (s) { return s.name === w.name && equal(s.hash, w.hash) && s.sig.length === 72; });
			if (!s) {
				continue;
			}
			var time = s.sig.slice(0, 8).reduce(function (v, x) { return v * 256n + BigInt(x); }, 0n);
			var key = await subtle.importKey("raw", w.pub, { name: "Ed25519" }, false, ["verify"]);
			var msg = utf8.encode("cosignature/v1\ntime " + time + "\n" + cp.text);
			if (await subtle.verify({ name: "Ed25519" }, key, s.sig.slice(8), msg)) {
				names.push(w.name);
			}
		}
		return names;
	}

	// parseCheckpoint reads a signed checkpoint note: the text (origin,
	// size, root) and its signature lines.
	function parseCheckpoint(raw) {
		var split = raw.lastIndexOf("\n\n");
		if (split < 0) {
			throw new Error("the checkpoint is not a signed note");
		}
		var text = raw.slice(0, split + 1);
		var lines = text.split("\n");
		if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) {
			throw new Error("the checkpoint has no origin, size and root");
		}
		var root = fromBase64(lines[2]);
		if (root.length !== 32) {
			throw new Error("the checkpoint's root is not 32 bytes");
		}
		var sigs = raw.slice(split + 2).split("\n").filter(function (l) { return l.startsWith("\u2014 "); }).map(function (l) {
			var rest = l.slice(2);
			var sp = rest.lastIndexOf(" ");
			var b = fromBase64(rest.slice(sp + 1));
			return { name: rest.slice(0, sp), hash: b.slice(0, 4), sig: b.slice(4) };
		});
		return { text: text, origin: lines[0], size: Number(lines[1]), root: root, sigs: sigs };
	}

	// signature returns "ok", "unsupported" (no Ed25519 in this browser) or
	// the reason the checkpoint is not signed by key.
	async function signature(cp, key) {
		if (cp.origin !== key.name) {
			return "its origin \u201c" + cp.origin + "\u201d is not the log key's name";
		}
		var s = cp.sigs.find(function (s) { return s.name === key.name && equal(s.hash, key.hash); });
		if (!s || s.sig.length !== 64) {
			return "it carries no signature by the log key";
		}
		var k;
		try {
			k = await subtle.importKey("raw", key.pub, { name: "Ed25519" }, false, ["verify"]);
		} catch (e) {
			return "unsupported";
		}
		return (await subtle.verify({ name: "Ed25519" }, k, s.sig, utf8.encode(cp.text))) ? "ok" : "its Ed25519 signature does not verify";
	}

	// Fetching.

	async function get(url, as) {
		var res = await fetch(url, { credentials: "same-origin", cache: "no-store" });
		if (!res.ok) {
			throw new Error(url + " answered " + res.status);
		}
		return as === "json" ? res.json() : res.text();
	}

	// The checks.

	var verdicts = {
		verified: "verified",
		partial: "proof checked, signature not checked",
		failed: "not verified",
		waiting: "waiting for the log",
		unchecked: "not checked",
	};

	function mark(tr, kind, detail) {
		var cell = tr.querySelector("td.proof");
		var m = document.createElement("span");
		m.className = "mark " + kind;
		m.textContent = verdicts[kind];
		cell.replaceChildren(m);
		if (detail) {
			var d = document.createElement("span");
			d.className = "checked";
			d.textContent = detail;
			cell.append(d);
		}
		tr.dataset.verified = kind;
	}

	// checkpointOf opens the checkpoint a page of events was proved
	// against, once per distinct note.
	async function checkpointOf(raw, key, public_, cache) {
		if (!cache.has(raw)) {
			var cp;
			try {
				cp = parseCheckpoint(raw);
				cp.signature = await signature(cp, key);
				if (witnesses && cp.signature === "ok") {
					cp.cosigners = await cosigners(cp, witnesses);
				}
				if (public_ && public_.size === cp.size && !equal(public_.root, cp.root)) {
					cp.fork = true;
				}
			} catch (e) {
				cp = { error: e.message };
			}
			cache.set(raw, cp);
		}
		return cache.get(raw);
	}

	// checkEvent returns the verdict on one row and its event.
	async function checkEvent(tr, ev, cp, key) {
		if (ev.status === "pending") {
			return ["waiting", "Recorded; the log has not taken it in yet."];
		}
		if (ev.status === "integrated") {
			return ["waiting", "In the log at index " + ev.log_index + "; waiting for the next signed checkpoint."];
		}
		if (ev.status !== "included" || !cp || !ev.entry || !ev.proof) {
			return ["failed", "The server gave no proof for it."];
		}
		if (cp.error) {
			return ["failed", "The checkpoint cannot be read: " + cp.error + "."];
		}
		var index = tr.querySelector("td.index");
		if (tr.dataset.index === undefined) {
			index.textContent = String(ev.log_index);
		}
		try {
			var entry = fromBase64(ev.entry);
			var differs = rowMismatch(tr, decodeEntry(entry), ev.log_index);
			if (differs) {
				return ["failed", "The log entry does not say what this row says: " + differs + "."];
			}
			var root = await rootFromProof(ev.log_index, cp.size, await leafHash(entry), ev.proof.map(fromBase64));
			if (!equal(root, cp.root)) {
				return ["failed", "Entry hash \u2192 inclusion proof does not lead to the root of checkpoint " + cp.size + "."];
			}
		} catch (e) {
			return ["failed", "The entry or its proof is malformed: " + e.message + "."];
		}
		var path = "Entry hash \u2192 inclusion proof (" + ev.proof.length + " " + (ev.proof.length === 1 ? "hash" : "hashes") +
			") \u2192 root of checkpoint " + cp.size;
		if (cp.fork) {
			return ["failed", path + ", but the public checkpoint of that size has another root: the log was forked."];
		}
		if (cp.signature === "unsupported") {
			return ["partial", path + ". This browser cannot check Ed25519 signatures, so the checkpoint's signature is not checked."];
		}
		if (cp.signature !== "ok") {
			return ["failed", path + ", but the checkpoint is not the log's: " + cp.signature + "."];
		}
		if (witnesses && cp.cosigners.length < quorum) {
			return ["failed", path + " signed by key " + key.id + ", but cosigned by " + cp.cosigners.length + " of the " +
				witnesses.length + " witnesses, fewer than the " + quorum + " needed: this view of the log may be yours alone."];
		}
		if (witnesses) {
			return ["verified", path + " signed by key " + key.id + " and cosigned by " + cp.cosigners.length + " of " +
				witnesses.length + " witnesses (" + cp.cosigners.join(", ") + ")."];
		}
		return ["verified", path + " signed by key " + key.id + "."];
	}

	function summarise(counts, key) {
		var parts = [];
		var n = counts.verified + counts.partial + counts.failed + counts.waiting + counts.unchecked;
		if (counts.verified) {
			parts.push(counts.verified + " verified (entry hash \u2192 inclusion proof \u2192 root of a checkpoint signed by key " + key.id +
				(witnesses ? " and cosigned by at least " + quorum + " of its " + witnesses.length + " witnesses" : "") + ")");
		}
		if (counts.partial) {
			parts.push(counts.partial + " with the proof checked but not the signature: this browser has no Ed25519 in WebCrypto");
		}
		if (counts.waiting) {
			parts.push(counts.waiting + " waiting for the log");
		}
		if (counts.failed) {
			parts.push(counts.failed + " NOT verified");
		}
		if (counts.unchecked) {
			parts.push(counts.unchecked + " not checked");
		}
		status.textContent = "Your browser checked " + n + (n === 1 ? " request: " : " requests: ") + parts.join("; ") + ".";
		status.className = "verify-status" + (counts.failed ? " bad" : counts.verified === n ? " ok" : "");
	}

	async function run(attempt) {
		if (!subtle) {
			rows.forEach(function (tr) { mark(tr, "unchecked", "This page is not in a secure context, so WebCrypto is unavailable."); });
			status.textContent = "Your browser cannot check the proofs here: WebCrypto needs a secure context (https).";
			status.className = "verify-status bad";
			return;
		}
		var key = await parseKey(await get("/log/key"));
		if (table.dataset.witnesses && !witnesses) {
			witnesses = await Promise.all(JSON.parse(table.dataset.witnesses).map(parseWitnessKey));
			quorum = Number(table.dataset.quorum);
		}
		var public_ = null;
		try {
			public_ = parseCheckpoint(await get("/log/checkpoint"));
		} catch (e) {
			public_ = null; // no checkpoint yet: nothing to compare with
		}
		var cache = new Map();
		var verdict = new Map();
		var after = lo - 1;
		for (;;) {
			var page = await get("/api/v1/me/access?after=" + after + "&limit=" + pageLimit, "json");
			var cp = page.checkpoint ? await checkpointOf(page.checkpoint, key, public_, cache) : null;
			for (var i = 0; i < page.events.length; i++) {
				var ev = page.events[i];
				var tr = rows.get(ev.event_id);
				if (tr) {
					verdict.set(ev.event_id, await checkEvent(tr, ev, cp, key));
				}
			}
			if (page.next === undefined || page.next === null || page.next >= hi) {
				break;
			}
			after = page.next;
		}
		var counts = { verified: 0, partial: 0, failed: 0, waiting: 0, unchecked: 0 };
		rows.forEach(function (tr, id) {
			var v = verdict.get(id) || ["failed", "The server did not list this request among yours."];
			mark(tr, v[0], v[1]);
			counts[v[0]]++;
		});
		summarise(counts, key);
		if (counts.waiting && attempt < maxRetries) {
			setTimeout(function () { start(attempt + 1); }, retryEvery);
			return;
		}
		status.dataset.done = "true";
	}

	function start(attempt) {
		run(attempt).catch(function (e) {
			rows.forEach(function (tr) { mark(tr, "unchecked", ""); });
			status.textContent = "Your browser could not check the proofs: " + e.message + ".";
			status.className = "verify-status bad";
			status.dataset.done = "true";
		});
	}

	status.textContent = "Your browser is checking the proofs\u2026";
	start(0);
})();
