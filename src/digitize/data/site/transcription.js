// The Hán-Nôm transcription editor (staff): one reading field for the current column; its
// candidates come from the form's data-candidates URL; digits 1-9 pick, arrow keys move, Enter
// picks (or, with the field empty, goes to the next column). Without this script each column's
// characters can still be typed or pasted into its own field.
(function () {
  "use strict";
  var form = document.getElementById("transcription-form");
  if (!form) { return; }
  var composer = document.getElementById("composer");
  var reading = document.getElementById("reading");
  var list = document.getElementById("candidates");
  var none = document.getElementById("no-candidate");
  var label = document.getElementById("current-column");
  var describe = document.getElementById("describe");
  var columns = Array.prototype.slice.call(document.querySelectorAll("#columns .column"));
  var current = 0, found = [], chosen = 0, asked = 0;
  if (!columns.length) { return; }
  composer.hidden = false;

  function field(kind, k) { return document.getElementById(kind + "-" + (k + 1)); }
  function show(k) {
    current = Math.max(0, Math.min(columns.length - 1, k));
    columns.forEach(function (column, i) {
      if (i === current) { column.setAttribute("aria-current", "true"); } else { column.removeAttribute("aria-current"); }
    });
    columns[current].scrollIntoView({block: "nearest", inline: "nearest"});
    label.textContent = label.dataset.label.replace("{number}", String(current + 1)).replace("{count}", String(columns.length));
  }
  function clear() {
    found = []; chosen = 0; list.textContent = ""; none.hidden = true;
    reading.setAttribute("aria-expanded", "false"); reading.removeAttribute("aria-activedescendant");
  }
  function mark() {
    Array.prototype.forEach.call(list.children, function (item, i) {
      item.setAttribute("aria-selected", i === chosen ? "true" : "false");
    });
    if (found.length) { reading.setAttribute("aria-activedescendant", "candidate-" + chosen); }
  }
  function draw(answer) {
    list.textContent = "";
    found = answer.candidates; chosen = 0;
    found.forEach(function (candidate, i) {
      var item = document.createElement("li");
      item.id = "candidate-" + i; item.setAttribute("role", "option");
      item.dataset.char = candidate.char;
      var key = document.createElement("span"); key.className = "key"; key.textContent = i < 9 ? String(i + 1) : "";
      var glyph = document.createElement("span"); glyph.className = "glyph"; glyph.lang = "vi-Hani"; glyph.textContent = candidate.char;
      var said = document.createElement("span"); said.className = "said"; said.lang = "vi"; said.textContent = candidate.reading;
      item.append(key, glyph, said);
      item.addEventListener("mousedown", function (event) { event.preventDefault(); pick(i); });
      list.appendChild(item);
    });
    none.hidden = found.length > 0 || !reading.value.trim();
    reading.setAttribute("aria-expanded", found.length ? "true" : "false");
    mark();
  }
  function lookup() {
    var typed = reading.value.trim(), number = ++asked;
    if (!typed) { clear(); return; }
    var url = new URL(form.dataset.candidates, window.location.href);
    url.searchParams.set("reading", typed);
    fetch(url.href, {credentials: "same-origin"})
      .then(function (answer) { return answer.json(); })
      .then(function (answer) { if (number === asked) { draw(answer); } });
  }
  function append(text, said) {
    var chars = field("chars", current), phienam = field("phienam", current);
    var suggestion = document.getElementById("suggested-" + (current + 1));
    chars.value += text;
    suggestion.textContent = (suggestion.textContent.trim() ? suggestion.textContent.trim() + " " : "") + said;
    if (phienam.dataset.edited !== "yes") { phienam.value = suggestion.textContent; }
  }
  function pick(i) {
    if (i < 0 || i >= found.length) { return; }
    append(found[i].char, found[i].reading);
    reading.value = ""; clear(); reading.focus();
  }
  function glyphs(text) { return text.match(/\{[^{}]*\}|[\s\S]/gu) || []; }

  reading.addEventListener("input", lookup);
  reading.addEventListener("keydown", function (event) {
    if (event.isComposing) { return; }
    if (/^[1-9]$/.test(event.key) && found.length) { event.preventDefault(); pick(Number(event.key) - 1); }
    else if (event.key === "ArrowDown" && found.length) { event.preventDefault(); chosen = (chosen + 1) % found.length; mark(); }
    else if (event.key === "ArrowUp" && found.length) { event.preventDefault(); chosen = (chosen + found.length - 1) % found.length; mark(); }
    else if (event.key === "Enter") {
      event.preventDefault();
      if (found.length) { pick(chosen); } else if (!reading.value.trim()) { show(current + 1); }
    } else if (event.key === "Escape") { reading.value = ""; clear(); }
  });
  document.getElementById("add-described").addEventListener("click", function () {
    var text = describe.value.replace(/[{}]/g, "").trim();
    if (!text) { describe.focus(); return; }
    append("{" + text + "}", "…"); describe.value = ""; reading.focus();
  });
  describe.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); document.getElementById("add-described").click(); }
  });
  document.getElementById("previous-column").addEventListener("click", function () { show(current - 1); reading.focus(); });
  document.getElementById("next-column").addEventListener("click", function () { show(current + 1); reading.focus(); });
  document.getElementById("remove-last").addEventListener("click", function () {
    var chars = field("chars", current), suggestion = document.getElementById("suggested-" + (current + 1));
    var left = glyphs(chars.value); left.pop(); chars.value = left.join("");
    var said = suggestion.textContent.trim().split(/\s+/); said.pop(); suggestion.textContent = said.join(" ");
    if (field("phienam", current).dataset.edited !== "yes") { field("phienam", current).value = suggestion.textContent; }
    reading.focus();
  });
  columns.forEach(function (column, i) {
    column.addEventListener("focusin", function () { show(i); });
    field("phienam", i).addEventListener("input", function () { this.dataset.edited = "yes"; });
    if (field("phienam", i).value) { field("phienam", i).dataset.edited = "yes"; }
  });
  Array.prototype.forEach.call(document.querySelectorAll(".use-suggestion"), function (button) {
    button.addEventListener("click", function () {
      var k = Number(button.dataset.column);
      var phienam = document.getElementById("phienam-" + k);
      phienam.value = document.getElementById("suggested-" + k).textContent.trim(); phienam.dataset.edited = "yes";
    });
  });
  show(0);
})();
