// Copy buttons: a button with data-copy="ID" copies the text of the
// element with that id to the clipboard, and says so in the .copy-status
// next to it. The buttons are hidden in the page: without this script (or
// without a clipboard) they stay hidden, and the text is there to select.
(function () {
	"use strict";

	function selectText(el) {
		const range = document.createRange();
		range.selectNodeContents(el);
		const sel = window.getSelection();
		sel.removeAllRanges();
		sel.addRange(range);
	}

	for (const button of document.querySelectorAll("button[data-copy]")) {
		const source = document.getElementById(button.dataset.copy);
		if (!source || !navigator.clipboard) {
			continue;
		}
		const status = button.parentElement.querySelector(".copy-status");
		const say = function (text) {
			if (status) {
				status.textContent = text;
			}
		};
		button.hidden = false;
		button.addEventListener("click", function () {
			say("");
			navigator.clipboard.writeText(source.textContent.trim()).then(function () {
				say("Copied.");
			}, function () {
				selectText(source);
				say("The browser did not allow copying: the text is selected, press Ctrl+C (⌘C on a Mac).");
			});
		});
	}
})();
