// The only script of the web catalog. Every page works without it; it adds the
// copy button beside an install command, and on the search page it updates the
// results while a person types (the form still submits, and a search is still a
// link: the address follows the text).
'use strict';

document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('button[data-copy]').forEach(function (button) {
    var field = document.getElementById(button.getAttribute('data-copy'));
    if (!field || !navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(field.value).then(function () {
        button.textContent = 'Copied';
        setTimeout(function () { button.textContent = 'Copy'; }, 2000);
      });
    });
  });

  var form = document.querySelector('form[role=search]');
  var input = form && form.querySelector('input[name=q]');
  if (!input || !document.getElementById('results') || !window.fetch || !window.DOMParser) {
    return;
  }
  var timer = null;
  var asked = 0;
  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      // What submitting the form would ask for, as the server renders it.
      var url = new URL(form.getAttribute('action'), location.href);
      url.search = new URLSearchParams(new FormData(form)).toString();
      var ticket = ++asked;
      fetch(url, { headers: { Accept: 'text/html' } })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          // A slower answer to older text never replaces a newer one.
          if (ticket !== asked) {
            return;
          }
          var page = new DOMParser().parseFromString(html, 'text/html');
          var fresh = page.getElementById('results');
          var shown = document.getElementById('results');
          if (!fresh || !shown) {
            return;
          }
          shown.replaceWith(document.adoptNode(fresh));
          document.title = page.title;
          history.replaceState(null, '', url);
        })
        .catch(function () {});
    }, 200);
  });
});
