/* Starts Mirador in <div id="viewer"> of an item page (digitize.site): one window on the manifest
   of data-manifest, opened at the canvas in position data-canvas (from 1), in the language of
   data-lang (in our words: viewer-words.js, loaded before, gives Mirador its Vietnamese and
   English), with no workspace controls. With data-query (the page's ?q=), the window opens
   with its search panel showing that query's hits (the manifest's IIIF Content Search service):
   the hits listed, their boxes drawn on the page, the first hit of the page shown selected (or,
   when the page has none, the first hit of the item, Mirador turning to its page). Loaded after
   mirador.min.js and viewer-words.js; no inline script, so the page's strict
   Content-Security-Policy holds.

   One page at a time unless the viewer is wide (WIDE_ENOUGH, and wider than tall), where Mirador
   shows a paged item as spreads, with the page thumbnails along the bottom (on a phone the page's
   own strip is enough). The one window is drawn alone (no mosaic layout), and Mirador's landmarks
   and heading are made plain parts of the page's (plainLandmarks).

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
  var WIDE_ENOUGH = 900;  // px of the viewer's width

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

  /* Mirador's page counter under the image (ViewerInfo) in our words: "Trang 6/48". Mirador
     says "6 of 48" with the word it also uses for the search results' "1 of 5", so its element
     is kept (its place and style) and its text replaced. */
  function pageCounter(words) {
    return function PageCounter(props) {
      var shown = props.targetProps;
      var text = words.pageOf.replace('{{current}}', shown.canvasIndex + 1).replace('{{total}}', shown.canvasCount);
      var element = typeof props.TargetComponent === 'function' ? props.TargetComponent(shown) : null;
      if (!element || typeof element !== 'object' || !element.props) {
        return text;
      }
      return Object.assign({}, element, { props: Object.assign({}, element.props, { children: text }) });
    };
  }

  /* Spreads only where two pages can be read side by side: a wide, landscape viewer. */
  function wide(element) {
    return element.clientWidth >= WIDE_ENOUGH && element.clientWidth > element.clientHeight * 1.2;
  }

  /* Mirador's landmarks and heading made plain parts of the page's own: the page has one main
     (the site's), one banner and one h1 (the item's title); Mirador's workspace <main>, its
     window's banner and its hidden h1 ("Mirador viewer") become a labelled region, a group and
     a paragraph's worth of text. Run on every change of the viewer's elements (React renders
     them again). */
  function plainLandmarks(element) {
    element.querySelectorAll('main').forEach(function (landmark) {
      landmark.setAttribute('role', 'region');
    });
    element.querySelectorAll('[role="banner"], [role="main"], header').forEach(function (landmark) {
      landmark.setAttribute('role', landmark.tagName === 'HEADER' || landmark.getAttribute('role') === 'banner'
                                    ? 'group' : 'region');
    });
    element.querySelectorAll('h1').forEach(function (heading) {
      heading.setAttribute('role', 'presentation');
      heading.removeAttribute('aria-level');
    });
  }

  function start() {
    var element = document.getElementById('viewer');
    if (!element || !window.Mirador || !element.getAttribute('data-manifest')) {
      return;
    }
    var language = element.getAttribute('data-lang') === 'vi' ? 'vi' : 'en';
    var words = window.DigitizeViewerWords || { vi: {}, en: {} };
    var page = parseInt(element.getAttribute('data-canvas'), 10);
    var query = (element.getAttribute('data-query') || '').trim();
    var spreads = wide(element);
    var bookWindow = {
      id: WINDOW,
      manifestId: element.getAttribute('data-manifest'),
      thumbnailNavigationPosition: spreads ? 'far-bottom' : 'off'
    };
    if (!spreads) {
      bookWindow.view = 'single';  // (else Mirador shows a paged item as spreads)
    }
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
      availableLanguages: { vi: 'Tiếng Việt', en: 'English' },
      translations: { vi: words.vi, en: words.en },
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
      thumbnailNavigation: { defaultPosition: spreads ? 'far-bottom' : 'off' },
      // 'single' is no layout of Mirador's: the one window drawn alone, without the mosaic, whose
      // drag and drop (react-dnd) logs React 19's "Accessing element.ref" error
      workspace: { type: 'single', allowNewWindows: false, showZoomControls: true },
      workspaceControlPanel: { enabled: false }
    };
    var store = steadyStore(config);
    if (query) {
      searchOnArrival(store, query);
    }
    var plugins = [{ target: 'ViewerInfo', mode: 'wrap', component: pageCounter(words[language]) }];
    window.Mirador.viewer(config, { plugins: plugins, store: store });
    plainLandmarks(element);
    var pending = false;
    new MutationObserver(function () {
      if (!pending) {
        pending = true;
        window.requestAnimationFrame(function () { pending = false; plainLandmarks(element); });
      }
    }).observe(element, { childList: true, subtree: true });
    window.matchMedia('(max-width: ' + (WIDE_ENOUGH - 1) + 'px)').addEventListener('change', function (narrow) {
      if (narrow.matches) {
        store.dispatch(window.Mirador.setWindowViewType(WINDOW, 'single'));
      }
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
