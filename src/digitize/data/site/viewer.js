/* Starts Mirador in <div id="viewer"> of an item page (digitize.site): one window on the manifest
   of data-manifest, opened at the canvas in position data-canvas (from 1), in the language of
   data-lang (Mirador falls back to English for a language it lacks), with the page thumbnails
   along the bottom and no workspace controls. Loaded after mirador.min.js; no inline script, so
   the page's strict Content-Security-Policy holds. */
(function () {
  'use strict';

  function start() {
    var element = document.getElementById('viewer');
    if (!element || !window.Mirador || !element.getAttribute('data-manifest')) {
      return;
    }
    var language = element.getAttribute('data-lang') === 'vi' ? 'vi' : 'en';
    var page = parseInt(element.getAttribute('data-canvas'), 10);
    var bookWindow = {
      manifestId: element.getAttribute('data-manifest'),
      thumbnailNavigationPosition: 'far-bottom'
    };
    if (page > 1) {
      bookWindow.canvasIndex = page - 1;
    }
    window.Mirador.viewer({
      id: element.id,
      language: language,
      windows: [bookWindow],
      window: {
        allowClose: false,
        allowMaximize: false,
        allowFullscreen: true,
        allowTopMenuButton: true,
        defaultView: 'single',
        hideWindowTitle: true,
        sideBarOpenByDefault: false
      },
      thumbnailNavigation: { defaultPosition: 'far-bottom' },
      workspace: { type: 'mosaic', allowNewWindows: false, showZoomControls: true },
      workspaceControlPanel: { enabled: false }
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
