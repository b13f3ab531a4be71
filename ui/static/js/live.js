// live.js: live updates for the messenger pages, which work without it.
//
// It follows the member's stream (server-sent events from /api/v1/stream,
// starting after the cursor the page put in data-stream) and
//   - on a conversation (ol#messages[data-stream]) inserts the
//     conversation's new messages in seq order, marks them read while the
//     page is visible, and sends the form through the JSON API without a
//     reload;
//   - on the list (ul#conversations[data-stream]) bumps the unread count of
//     a conversation and moves it to the top.
// What the page already shows is dropped by seq. Text from the server goes
// into the page with textContent only.
(() => {
	"use strict";

	const status = document.getElementById("live-status");
	const say = (text) => {
		if (status && status.textContent !== text) status.textContent = text;
	};

	// follow opens the stream at url and calls onMessage with each message,
	// in commit order. EventSource reconnects by itself (resuming with
	// Last-Event-ID); after a "close" frame the stream is opened again after
	// the last message, unless the session ended.
	function follow(url, onMessage) {
		let last = null;
		const open = () => {
			const u = new URL(url, location.href);
			if (last !== null) u.searchParams.set("after", last);
			const es = new EventSource(u);
			es.onopen = () => say("");
			es.onmessage = (e) => {
				const frame = JSON.parse(e.data);
				if (frame.type === "message") {
					last = frame.message.id;
					onMessage(frame.message);
				} else if (frame.type === "close") {
					es.close();
					if (String(frame.reason).startsWith("signed out")) {
						say("You were signed out. Sign in again to see new messages.");
					} else {
						setTimeout(open, 1000);
					}
				}
			};
			es.onerror = () => {
				say(es.readyState === EventSource.CLOSED
					? "Live updates stopped. Reload the page to see new messages."
					: "Reconnecting…");
			};
		};
		open();
	}

	function el(tag, className, text) {
		const e = document.createElement(tag);
		if (className) e.className = className;
		if (text !== undefined) e.textContent = text;
		return e;
	}

	function messageItem(m, sender, mine) {
		const li = el("li", mine ? "msg mine" : "msg");
		li.id = "m-" + m.seq;
		// time.js rewrites it in the page's style, in the reader's zone.
		const time = el("time", "", m.created_at);
		time.dateTime = m.created_at;
		time.dataset.format = "datetime";
		const meta = el("p", "meta");
		meta.append(el("span", "who", sender), " ", time);
		if (m.via_partner) meta.append(" ", el("span", "badge via", "sent via " + m.via_partner));
		li.append(meta, el("p", "text", m.text));
		return li;
	}

	const seqOf = (li) => Number(li.id.slice(2)); // "m-12"

	function conversation(list) {
		const id = Number(list.dataset.conversation);
		const me = Number(list.dataset.me);
		const floor = Number(list.dataset.seq); // the page shows everything up to here
		const names = new Map();
		for (const li of document.querySelectorAll("#members li")) names.set(Number(li.dataset.id), li.dataset.name);

		let unread = 0;
		const markRead = () => {
			if (!unread || document.visibilityState !== "visible") return;
			const body = JSON.stringify({ seq: unread });
			unread = 0;
			fetch(`/api/v1/conversations/${id}/read`, { method: "POST", headers: { "Content-Type": "application/json" }, body })
				.catch(() => {});
		};
		document.addEventListener("visibilitychange", markRead);

		follow(list.dataset.stream, (m) => {
			if (m.conversation_id !== id || m.seq <= floor || document.getElementById("m-" + m.seq)) return;
			const mine = m.sender_id === me;
			const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
			const li = messageItem(m, mine ? "You" : names.get(m.sender_id) || "@" + m.sender_handle, mine);
			let before = list.lastElementChild;
			while (before && seqOf(before) > m.seq) before = before.previousElementSibling;
			if (before) before.after(li);
			else list.prepend(li);
			document.getElementById("no-messages")?.remove();
			if (atBottom) window.scrollTo(0, document.body.scrollHeight);
			if (!mine) {
				unread = Math.max(unread, m.seq);
				markRead();
			}
		});
		compose(document.getElementById("compose"));
		if (!location.hash) window.scrollTo(0, document.body.scrollHeight);
	}

	function newTxnID() {
		const b = new Uint8Array(16);
		crypto.getRandomValues(b);
		return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
	}

	// compose sends the form through the JSON API; the message then comes
	// back on the stream like any other. Enter sends, Shift+Enter breaks
	// the line.
	function compose(form) {
		if (!form) return;
		const text = form.elements.text;
		const txn = form.elements.client_txn_id;
		const error = document.getElementById("e-text");
		const button = form.querySelector("button[type=submit]");
		const showError = (msg) => {
			error.textContent = msg;
			error.hidden = !msg;
			form.querySelector(".field").classList.toggle("invalid", !!msg);
			if (msg) text.setAttribute("aria-invalid", "true");
			else text.removeAttribute("aria-invalid");
		};
		document.getElementById("compose-hint").hidden = false;
		text.addEventListener("keydown", (e) => {
			if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
				e.preventDefault();
				form.requestSubmit();
			}
		});
		form.addEventListener("submit", async (e) => {
			e.preventDefault();
			button.disabled = true;
			try {
				const res = await fetch(form.dataset.api, {
					method: "POST",
					headers: { "Content-Type": "application/json" },
					body: JSON.stringify({ text: text.value, client_txn_id: txn.value }),
				});
				if (res.ok) {
					text.value = "";
					txn.value = newTxnID();
					showError("");
				} else {
					const body = await res.json().catch(() => ({}));
					showError(body.message || "The message could not be sent.");
				}
			} catch {
				// No answer: post the form instead; its client_txn_id stores
				// the message once even if the first try went through.
				form.submit();
				return;
			} finally {
				button.disabled = false;
			}
			text.focus();
		});
	}

	// showLast shows m as the conversation's last message in the list, as
	// the server writes it (messenger's preview).
	function showLast(li, m, me) {
		let text = m.text.split(/\s+/).filter(Boolean).join(" ");
		const runes = [...text];
		if (runes.length > 100) text = runes.slice(0, 100).join("") + "…";
		if (m.sender_id === me) text = "You: " + text;
		else if (li.dataset.kind === "group") text = "@" + m.sender_handle + ": " + text;
		const last = li.querySelector(".conv-last");
		const time = el("time", "", m.created_at);
		time.dateTime = m.created_at;
		time.dataset.format = "datetime";
		last.replaceChildren(el("span", "conv-preview", text), " ", time);
	}

	function conversations(list) {
		const me = Number(list.dataset.me);
		follow(list.dataset.stream, (m) => {
			const li = list.querySelector(`li[data-conversation="${Number(m.conversation_id)}"]`);
			if (!li) {
				say("You have messages in a new conversation. Reload the page to see it.");
				return;
			}
			if (m.seq <= Number(li.dataset.seq)) return;
			li.dataset.seq = m.seq;
			if (m.sender_id !== me) {
				const badge = li.querySelector(".unread");
				badge.textContent = `${parseInt(badge.textContent, 10) + 1} unread`;
				badge.hidden = false;
			}
			showLast(li, m, me);
			list.prepend(li);
		});
	}

	const messages = document.getElementById("messages");
	if (messages && messages.dataset.stream) conversation(messages);
	const list = document.getElementById("conversations");
	if (list && list.dataset.stream) conversations(list);
})();
