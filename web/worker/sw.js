// The service worker: the app shell from the cache (it opens at once, and with no network),
// refreshed from the network behind it for the next start (stale-while-revalidate);
// config.json from the network when there is one. API calls go to another origin: left alone.
const CACHE = "foule-worker-v1";
const SHELL = ["./", "index.html", "app.css", "manifest.webmanifest", "icon.svg", "icon-192.png", "config.json",
               "js/main.js", "js/api.js", "js/i18n.js", "js/markdown.js", "js/outbox.js", "js/widgets.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.endsWith("/config.json")) {
    event.respondWith(fetch(event.request).then((response) => {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(event.request, copy));
      return response;
    }).catch(() => caches.match(event.request)));
    return;
  }
  const fresh = fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(event.request, copy));
    }
    return response;
  });
  event.waitUntil(fresh.catch(() => undefined));
  event.respondWith(caches.match(event.request, { ignoreSearch: true }).then((hit) => hit || fresh));
});
