/* Load Mermaid (3.5 MB) only on a page that has a diagram, from this site, never from a CDN.

   Material for MkDocs (and Zensical) render a diagram by calling the global `mermaid`:
   `mermaid.initialize(config)` once, then `mermaid.render(id, text)` for each diagram. When
   no global `mermaid` exists they download it from unpkg.com. This stand-in is that global
   on every page: it costs nothing until a diagram asks to be rendered, then loads the copy
   shipped next to it (mermaid.min.js), hands it the configuration, and lets it render. The
   real script replaces the stand-in as `window.mermaid` once loaded. */
(function () {
  "use strict";
  if (typeof window.mermaid !== "undefined" && !(window.mermaid instanceof Element)) {
    return;
  }
  var script = document.currentScript;
  var source = new URL("mermaid.min.js", script ? script.src : document.baseURI).href;
  var configuration = null;
  var loading = null;

  function load() {
    if (loading === null) {
      loading = new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = source;
        tag.onload = function () {
          if (configuration !== null) {
            window.mermaid.initialize(configuration);
          }
          resolve(window.mermaid);
        };
        tag.onerror = function () {
          loading = null;
          reject(new Error("could not load " + source));
        };
        document.head.appendChild(tag);
      });
    }
    return loading;
  }

  window.mermaid = {
    initialize: function (config) {
      configuration = config;
    },
    render: function (id, text) {
      return load().then(function (mermaid) {
        return mermaid.render(id, text);
      });
    }
  };
})();
