// Optiview Edge console: small improvements only; every page reads fine without this file.
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  // Pickers submit as soon as they change (without JavaScript there is a button).
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  // Copy buttons: data-copy names the element whose text is copied.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = "Copied";
      } catch (err) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Selected: press Ctrl+C";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 2500);
    });
  }
  // Polling: an element with data-poll asks its JSON URL every few seconds and shows
  // the answer's state, until the state is final (data-poll-until).
  for (const box of document.querySelectorAll("[data-poll]")) {
    const until = box.dataset.pollUntil;
    const tick = async () => {
      try {
        const answer = await fetch(box.dataset.poll, { credentials: "same-origin", cache: "no-store" });
        if (answer.ok) {
          const body = await answer.json();
          box.className = box.className.replace(/\b(verified|waiting)\b/g, "").trim() + " " + body.state;
          for (const field of box.querySelectorAll("[data-field]")) {
            const value = body[field.dataset.field];
            if (value !== undefined && value !== null) field.textContent = value;
          }
          if (body.state === until) {
            // what to check while waiting is no longer needed
            for (const help of document.querySelectorAll("[data-hide-when='" + until + "']")) {
              help.hidden = true;
            }
            return;
          }
        }
      } catch (err) { /* offline for a moment: try again */ }
      setTimeout(tick, 2000);
    };
    setTimeout(tick, 1500);
  }
});
