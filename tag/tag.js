/* Optiview tag: pageviews, SPA navigation, clicks, custom events and conversions.
 *
 * Configured by its own <script> element (runbook 5.2): data-key-id, data-project-id,
 * data-property-id, data-clicks="1", data-spa="1". Events go to the origin the tag was loaded
 * from. ES5 on purpose: it is minified by calmjs.parse (tag/build.py) and runs everywhere.
 * Regions between the debug markers exist only in the debug build (tag.js?debug=1).
 */
(function (w, d, loc) {
  var script = d.currentScript;
  if (!script) return;
  var attr = function (name) {
    return script.getAttribute('data-' + name);
  };
  var config = {
    key_id: attr('key-id'),
    project_id: attr('project-id'),
    property_id: +attr('property-id')
  };
  var endpoint = new URL(script.src).origin + '/v1/events';
  var lastUrl;
  // @debug-start
  endpoint += '?debug=1';
  var log = function () {
    var args = [].slice.call(arguments);
    args.unshift('[optiview]');
    console.log.apply(console, args);
  };
  log('configuration read', {
    key_id: config.key_id,
    project_id: config.project_id,
    property_id: config.property_id,
    clicks: attr('clicks') == '1',
    spa: attr('spa') == '1',
    collector: endpoint
  });
  // @debug-end
  if (!config.key_id || !config.project_id || !config.property_id) {
    console.warn('[optiview] the tag needs data-key-id, data-project-id and data-property-id');
    return;
  }

  // First-party session id: a cookie renewed by every event, gone after 30 idle minutes.
  var session = function () {
    var found = d.cookie.match(/(?:^|; )_ov_sid=([\w.]+)/);
    var id = found ? found[1] : Date.now().toString(36) + '.' + Math.random().toString(36).slice(2);
    d.cookie = '_ov_sid=' + id + ';path=/;max-age=1800;samesite=lax' +
      (loc.protocol == 'https:' ? ';secure' : '');
    return id;
  };

  // Only for a fetch that failed without an answer the page could read. The collector's answers
  // are readable (CORS) whenever it accepted, when the page is a registered site, and always
  // with ?debug=1, so none of those is ever sent twice. A production page on an origin no
  // property allows gets its 403 without the header, which the browser reports as a network
  // error: that one refused event costs one beacon more (docs/operator-guide.md).
  var beacon = function (body) {
    // @debug-start
    log('fetch failed without a readable answer (network error, or an answer without CORS' +
      ' headers); sending by sendBeacon instead');
    // @debug-end
    if (navigator.sendBeacon) navigator.sendBeacon(endpoint, body);
  };

  // The collector's limits, applied here so that a long URL still counts, cut short.
  var cut = function (text, limit) {
    return text ? String(text).slice(0, limit) : text;
  };

  var send = function (type, name, props, referrer) {
    try {
      if (localStorage.getItem('optiview_ignore')) {
        // @debug-start
        log('not sent: localStorage optiview_ignore is set on this browser');
        // @debug-end
        return;
      }
    } catch (e) {}
    var event = {
      type: type,
      name: cut(name, 128),
      url: cut(loc.href, 2048),
      referrer: cut(referrer, 2048),
      title: cut(d.title, 512),
      ts: Date.now(),
      session_id: session(),
      props: props
    };
    config.events = [event];
    var body = JSON.stringify(config);
    // @debug-start
    log('event queued', event);
    // @debug-end
    if (body.length > 60000) return;
    try {
      // text/plain needs no preflight; keepalive lets the request outlive the page.
      fetch(endpoint, {
        method: 'POST',
        body: body,
        keepalive: true,
        credentials: 'omit',
        headers: { 'Content-Type': 'text/plain' }
      }).then(function (response) {
        // @debug-start
        log('sent; the collector answered ' + response.status);
        response.json().then(function (answer) {
          log('answer', answer);
          var fates = answer.debug && answer.debug.events;
          if (fates && fates.forEach) {
            fates.forEach(function (fate) {
              log('event ' + fate.index + ': ' + fate.fate + ' as ' + fate.ua_class +
                ' (' + fate.ua_reason + ')' +
                (fate.ai_source ? ', AI source ' + fate.ai_source : '') +
                (fate.ai_source_note ? ' (' + fate.ai_source_note + ')' : ''));
              (fate.notes || []).forEach(function (note) {
                log('event ' + fate.index + ': ' + note);
              });
            });
          } else if (answer.error) {
            log('refused: ' + answer.error + ': ' + answer.detail);
            if (answer.debug && answer.debug.fix) log('fix: ' + answer.debug.fix);
          }
        });
        // @debug-end
      }, function () {
        beacon(body);
      });
    } catch (e) {
      beacon(body);
    }
  };

  var pageview = function () {
    if (loc.href == lastUrl) return;
    send('pageview', null, null, lastUrl || d.referrer);
    lastUrl = loc.href;
  };

  if (attr('spa') == '1') {
    var wrap = function (method) {
      var original = history[method];
      history[method] = function () {
        var result = original.apply(this, arguments);
        pageview();
        return result;
      };
    };
    wrap('pushState');
    wrap('replaceState');
    w.addEventListener('popstate', pageview);
    w.addEventListener('hashchange', pageview);
  }

  if (attr('clicks') == '1') {
    // Capture phase, and no preventDefault: navigation is never held up.
    d.addEventListener('click', function (e) {
      var el = e.target.closest && e.target.closest('a[href],[data-ov-event]');
      if (!el) return;
      var custom = el.getAttribute('data-ov-event');
      if (custom) {
        var props = {};
        for (var i = 0; i < el.attributes.length; i++) {
          var a = el.attributes[i];
          if (a.name.indexOf('data-ov-prop-') == 0) props[a.name.slice(13)] = a.value;
        }
        send('custom', custom, props);
      } else if (el.protocol.indexOf('http') == 0) {
        var kind = el.hasAttribute('download') ||
          /\.(pdf|zip|gz|tgz|7z|rar|dmg|exe|msi|apk|csv|xlsx?|docx?|pptx?|mp3|mp4|mov)$/i.test(el.pathname)
          ? 'download' : el.hostname != loc.hostname ? 'outbound' : 'link';
        send('click', kind, { href: cut(el.href, 512) });
      }
    }, true);
  }

  var call = function (kind, name, props) {
    if (kind == 'event' || kind == 'conversion') send(kind == 'event' ? 'custom' : kind, name, props);
    // @debug-start
    else log('unknown call optiview(' + kind + ', ...): use "event" or "conversion"');
    // @debug-end
  };
  var queued = (w.optiview && w.optiview.q) || [];
  w.optiview = call;
  pageview();
  for (var i = 0; i < queued.length; i++) call.apply(null, queued[i]);
})(window, document, location);
