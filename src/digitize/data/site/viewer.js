/* Starts Mirador in <div id="viewer"> of an item page (digitize.site): one window on the manifest
   of data-manifest, opened at the canvas in position data-canvas (from 1), in the language of
   data-lang (Mirador falls back to English for a language it lacks), with the page thumbnails
   along the bottom and no workspace controls. With data-query (the page's ?q=), the window opens
   with its search panel showing that query's hits (the manifest's IIIF Content Search service):
   the hits listed, their boxes drawn on the page, the first hit of the page shown selected (or,
   when the page has none, the first hit of the item, Mirador turning to its page). Loaded after
   mirador.min.js; no inline script, so the page's strict Content-Security-Policy holds.

   Why not Mirador's own `defaultSearchQuery`: Mirador 4.0.0 starts that search from a saga, and
   its search panel, seeing the query appear, asks for it again (the panel asks for its query
   whenever it is shown). When the second request starts after the first answer has arrived,
   Mirador's reducer empties that answer while it waits, and the hits already listed no longer
   find their annotations: SearchHit throws "Cannot read properties of undefined (reading
   'targetId')" and the viewer goes blank. So the search is started here, through the store, once
   the manifest and the search panel are there, and a search asked again while the same one is
   under way or answered (the panel's echo, or the panel shown again) is not dispatched: the
   answer in hand stays, and the service is asked once. */
(function () {
  'use strict';

  var WINDOW = 'book';

  function sameSearchUnderWay(state, action) {
    var searches = window.Mirador.getSearchForWindow(state, { windowId: action.windowId }) || {};
    var search = searches[action.companionWindowId];
    return Boolean(search && search.query === action.query && search.data && search.data[action.searchId]
                   && !search.data[action.searchId].error);
  }

  /* Mirador's store (Mirador.viewer takes it as `store`), its dispatch (what Mirador's components
     call) passing over a search asked again while the same one is under way or answered. */
  function steadyStore(config) {
    var Mirador = window.Mirador;
    var store = Mirador.createPluggableStore(config, []);
    var dispatch = store.dispatch;
    store.dispatch = function (action) {
      if (action && action.type === Mirador.ActionTypes.REQUEST_SEARCH
          && sameSearchUnderWay(store.getState(), action)) {
        return action;
      }
      return dispatch(action);
    };
    return store;
  }

  /* Runs `query` in the search panel once the manifest (its search service) and the panel are
     there; when its answer arrives, selects the first hit on the page shown, else the first hit. */
  function searchOnArrival(store, query) {
    var Mirador = window.Mirador;
    var asked = null;
    var unsubscribe = store.subscribe(function () {
      var state = store.getState();
      var at = { windowId: WINDOW };
      if (asked === null) {
        var service = Mirador.getManifestSearchService(state, at);
        var panel = (Mirador.getCompanionWindowsForContent(state, { content: 'search', windowId: WINDOW }) || [])[0];
        if (!service || !panel) {
          return;
        }
        asked = panel.id;
        // the URL the panel builds for its query, so that its echo is recognised as this search
        store.dispatch(Mirador.fetchSearch(WINDOW, asked, service.id + '?' + new URLSearchParams({ q: query }),
                                           query));
        return;
      }
      var within = { companionWindowId: asked, windowId: WINDOW };
      var data = ((Mirador.getSearchForWindow(state, at) || {})[asked] || {}).data || {};
      var answers = Object.keys(data).map(function (id) { return data[id]; });
      if (!answers.length || answers.some(function (answer) { return answer.isFetching; })) {
        return;
      }
      unsubscribe();
      var hits = Mirador.getSortedSearchAnnotationsForCompanionWindow(state, within) || [];
      var shown = Mirador.getVisibleCanvasIds(state, at) || [];
      var first = hits.filter(function (hit) { return shown.indexOf(hit.targetId) >= 0; })[0] || hits[0];
      if (first && !(Mirador.getSelectedContentSearchAnnotationIds(state, within) || []).length) {
        store.dispatch(Mirador.selectAnnotation(WINDOW, first.id));
      }
      store.dispatch(Mirador.updateWindow(WINDOW, { switchCanvasOnSearch: true }));  // the reader's own searches
    });
  }

  function start() {
    var element = document.getElementById('viewer');
    if (!element || !window.Mirador || !element.getAttribute('data-manifest')) {
      return;
    }
    var language = element.getAttribute('data-lang') === 'vi' ? 'vi' : 'en';
    var page = parseInt(element.getAttribute('data-canvas'), 10);
    var query = (element.getAttribute('data-query') || '').trim();
    var bookWindow = {
      id: WINDOW,
      manifestId: element.getAttribute('data-manifest'),
      thumbnailNavigationPosition: 'far-bottom'
    };
    if (page > 1) {
      bookWindow.canvasIndex = page - 1;
    }
    if (query) {
      bookWindow.sideBarOpen = true;
      bookWindow.sideBarPanel = 'search';
      bookWindow.switchCanvasOnSearch = false;  // the first hit is chosen on arrival (searchOnArrival)
    }
    var config = {
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
    };
    var store = steadyStore(config);
    if (query) {
      searchOnArrival(store, query);
    }
    window.Mirador.viewer(config, { plugins: [], store: store });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
