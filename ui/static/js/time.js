// Times in the reader's own time zone. The server writes every time in
// UTC as <time datetime="2026-12-03T14:05:00Z" data-format="datetime">3 Dec
// 2026, 14:05 UTC</time> (or data-format="date": "3 Dec 2026"); this script
// rewrites each in the same style in the browser's time zone ("3 Dec 2026,
// 15:05 CET"), keeps the UTC text as its title, and marks it data-local.
// Times that other scripts add later (live.js) are rewritten as they come.
(function () {
	"use strict";

	const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
	const parts = new Intl.DateTimeFormat("en-GB", {
		year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
	});

	function format(d, style) {
		const p = {};
		for (const part of parts.formatToParts(d)) {
			p[part.type] = part.value;
		}
		const day = p.day.replace(/^0/, "") + " " + months[Number(p.month) - 1] + " " + p.year;
		return style === "date" ? day : day + ", " + p.hour + ":" + p.minute + " " + p.timeZoneName;
	}

	function localize(el) {
		const style = el.dataset.format;
		const d = new Date(el.dateTime);
		if ((style !== "date" && style !== "datetime") || isNaN(d.getTime()) || "local" in el.dataset) {
			return;
		}
		if (!el.title) {
			el.title = el.textContent.trim();
		}
		el.textContent = format(d, style);
		el.dataset.local = "";
	}

	function localizeAll(root) {
		if (root.matches && root.matches("time[data-format]")) {
			localize(root);
		}
		if (root.querySelectorAll) {
			root.querySelectorAll("time[data-format]").forEach(localize);
		}
	}

	localizeAll(document);
	new MutationObserver(function (records) {
		for (const r of records) {
			r.addedNodes.forEach(localizeAll);
		}
	}).observe(document.body, { childList: true, subtree: true });
})();
