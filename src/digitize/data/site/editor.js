/* The page editor of review (digitize.access.editor): keyboard first. Enter in a line goes to the
   next line, as Tab does (not while an input method is composing: Telex, VNI and the others end a
   word with Enter); Ctrl+Enter (Cmd+Enter) saves the page without leaving it, by the same POST as
   the form, in JSON: the lines saved start from their new text, a line someone else changed keeps
   the text typed here, with who changed it and their text beside it. Without this script the form
   still saves (Enter or the button). No inline script: the site's Content-Security-Policy holds. */
(function () {
  'use strict';

  var form = document.getElementById('editor-form');
  if (!form) { return; }
  var status = document.getElementById('editor-status');
  var fields = Array.prototype.slice.call(form.querySelectorAll('input.line-text'));
  var saving = false;

  function say(text, isError) {
    status.textContent = '';
    var p = document.createElement('p');
    p.className = isError ? 'error' : 'saved';
    p.textContent = text;
    status.appendChild(p);
  }

  function rowOf(field) { return field.closest('li.line'); }

  function showConflict(row, conflict) {
    var note = row.querySelector('.conflict-note');
    if (!note) {
      note = document.createElement('div');
      note.className = 'conflict-note';
      note.id = 'conflict-' + conflict.line;
      note.setAttribute('role', 'alert');
      row.appendChild(note);
    }
    note.textContent = '';
    var message = document.createElement('p');
    message.textContent = conflict.message;
    var theirs = document.createElement('p');
    var quoted = document.createElement('q');
    quoted.lang = 'vi';
    quoted.textContent = conflict.theirs;
    theirs.appendChild(quoted);
    note.appendChild(message);
    note.appendChild(theirs);
    row.classList.add('conflict');
    var field = row.querySelector('input.line-text');
    var described = field.getAttribute('aria-describedby') || '';
    if (described.indexOf(note.id) < 0) { field.setAttribute('aria-describedby', (described + ' ' + note.id).trim()); }
  }

  function save() {
    if (saving || form.querySelector('input.line-text[readonly]')) { return; }
    saving = true;
    var lines = fields.map(function (field) {
      var row = rowOf(field);
      return {line: row.querySelector('input[name=line]').value, was: row.querySelector('input.was').value,
              text: field.value};
    });
    var csrf = form.querySelector('input[name=csrf]').value;
    fetch(form.getAttribute('data-json'), {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
      body: JSON.stringify({csrf: csrf, lines: lines})
    }).then(function (answer) {
      return answer.json().then(function (data) { return {ok: answer.ok || answer.status === 409, data: data}; });
    }).then(function (result) {
      var data = result.data;
      if (!result.ok) { say(data.message || String(data.error), true); return; }
      var conflicts = {};
      (data.conflicts || []).forEach(function (c) { conflicts[c.line] = c; });
      fields.forEach(function (field) {
        var row = rowOf(field);
        var id = row.querySelector('input[name=line]').value;
        if (conflicts[id]) {
          row.querySelector('input.was').value = conflicts[id].theirs;
          showConflict(row, conflicts[id]);
        } else if ((data.saved || []).indexOf(id) >= 0) {
          row.querySelector('input.was').value = field.value.trim().split(/\s+/).join(' ').normalize('NFC');
          row.classList.remove('conflict');
          var note = row.querySelector('.conflict-note');
          if (note) { note.remove(); }
        }
      });
      say(data.message, (data.conflicts || []).length > 0);
    }).catch(function () {
      say(form.getAttribute('data-offline') || 'Not saved: the server did not answer. Try again.', true);
    }).then(function () { saving = false; });
  }

  form.addEventListener('keydown', function (event) {
    if (event.isComposing || event.keyCode === 229) { return; }  // an input method is composing
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      save();
      return;
    }
    if (event.key === 'Enter' && !event.shiftKey && !event.altKey && event.target.classList.contains('line-text')) {
      event.preventDefault();
      var next = fields[fields.indexOf(event.target) + 1];
      (next || document.getElementById('save-page') || event.target).focus();
    }
  });
}());
