// The worker app: a hash router over a few screens. Every answer goes through the outbox
// (js/outbox.js), online or not, so an answer is never lost nor sent twice.
import * as remote from "./api.js";
import { api, ApiError, NetworkError } from "./api.js";
import { lang, money, t, when } from "./i18n.js";
import { renderMarkdown, safeUrl } from "./markdown.js";
import * as store from "./outbox.js";
import { h, widget, WIDGET_FIELDS } from "./widgets.js";

const main = document.getElementById("main");
const statusLine = document.getElementById("status");
let countdown = null;

const form = (onsubmit, ...children) => h("form", { onsubmit: async (event) => {
  event.preventDefault();
  const button = event.target.querySelector("button[type=submit]");
  button.disabled = true;
  try { await onsubmit(new FormData(event.target)); } catch (error) { notice(describe(error), true); }
  button.disabled = false;
} }, ...children);

const field = (name, label, attrs = {}) => h("div", { class: "field" },
  h("label", { for: `f-${name}` }, label), h("input", { id: `f-${name}`, name, ...attrs }));

const describe = (error) => (error instanceof NetworkError ? t("network") : error.message);

// A message on the current screen (an error of its form, a confirmation).
function notice(text, alarm = false) {
  let node = main.querySelector(".notice");
  if (!node) main.querySelector("h1").after(node = h("p", { class: "notice" }));
  node.textContent = text;
  node.setAttribute("role", alarm ? "alert" : "status");
  node.classList.toggle("bad", alarm);
}

function screen(title, ...children) {
  clearInterval(countdown);
  main.replaceChildren(h("h1", {}, title), ...children.filter((child) => child != null));
  document.title = `${title} · Foule`;
  main.focus({ preventScroll: true });
}

// --- Signing up and in ------------------------------------------------------------------------
const screens = {
  signin() {
    screen(t("signin"),
      form(async (data) => {
        await remote.signIn(data.get("email"), data.get("password"));
        sync();  // answers this worker left waiting on this phone
        location.hash = (await termsAccepted()) ? "#/projects" : "#/profile";
      }, field("email", t("email"), { type: "email", autocomplete: "username", required: true }),
         field("password", t("password"), { type: "password", autocomplete: "current-password", required: true }),
         h("button", { type: "submit" }, t("signin"))),
      h("p", {}, h("a", { href: "#/signup" }, t("no_account"))),
      h("details", {}, h("summary", {}, t("worker_key")), form(async (data) => {
        remote.saveSession({ kind: "key", key: data.get("key").trim() });
        await api("GET", "/me");
        sync();
        location.hash = "#/projects";
      }, field("key", t("key"), { type: "password", autocomplete: "off", required: true }),
         h("button", { type: "submit" }, t("signin")))));
  },

  signup() {
    screen(t("signup"),
      form(async (data) => {
        await remote.signUp(data.get("email"), data.get("password"));
        sessionStorage.setItem("foule.email", data.get("email"));
        location.hash = "#/verify";
      }, field("email", t("email"), { type: "email", autocomplete: "username", required: true }),
         field("password", t("password"), { type: "password", autocomplete: "new-password", required: true,
                                            minlength: "8", "aria-describedby": "password-hint" }),
         h("p", { id: "password-hint", class: "hint" }, t("password_hint")),
         h("button", { type: "submit" }, t("signup"))),
      h("p", {}, h("a", { href: "#/signin" }, t("have_account"))));
  },

  verify() {
    const email = sessionStorage.getItem("foule.email") || "";
    screen(t("verify"), h("p", {}, t("code_sent", { email })),
      form(async (data) => {
        await remote.confirmSignUp(data.get("email"), data.get("code").trim());
        history.replaceState(null, "", "#/signin");
        screens.signin();
        notice(t("verified"));
      }, field("email", t("email"), { type: "email", value: email, required: true }),
         field("code", t("code"), { inputmode: "numeric", autocomplete: "one-time-code", required: true }),
         h("button", { type: "submit" }, t("verify"))));
  },

  // --- Profile and terms ----------------------------------------------------------------------
  async profile() {
    let profile = {};
    // With no profile yet, or no network, the form starts empty (and signing out still works).
    try { profile = await api("GET", "/me/profile"); } catch (error) {
      if (!(error instanceof ApiError || error instanceof NetworkError)) throw error;
    }
    screen(t("profile"),
      form(async (data) => {
        await api("PUT", "/me/profile", {
          display_name: data.get("display_name"), country: data.get("country").toUpperCase(),
          languages: data.get("languages").split(/[\s,]+/).filter(Boolean).map((l) => l.toLowerCase()),
          accepted_terms: data.get("terms") === "on" });
        notice(t("saved"));
      }, field("display_name", t("display_name"), { value: profile.display_name || "", required: true, autocomplete: "nickname" }),
         field("languages", t("languages"), { value: (profile.languages?.length ? profile.languages : [lang]).join(", "), required: true }),
         field("country", t("country"), { value: profile.country || "", required: true, maxlength: "2", autocomplete: "country" }),
         h("label", { class: "choice" }, h("input", { type: "checkbox", name: "terms", required: true,
                                                       checked: Boolean(profile.terms_accepted_at) }), h("span", {}, t("terms"))),
         h("button", { type: "submit" }, t("save"))),
      h("button", { type: "button", class: "secondary", onclick: () => { remote.signOut(); location.hash = "#/signin"; } }, t("signout")));
  },

  // --- Projects and work ------------------------------------------------------------------------
  async projects() {
    let items = null;
    try {
      items = (await api("GET", "/work/projects")).items;
    } catch (error) {  // an API without the listing: "take the next task" still works
      if (!(error instanceof ApiError && [403, 404].includes(error.status) && error.code === String(error.status))) throw error;
    }
    const kinds = [...new Set((items || []).map((p) => p.kind))];
    const filter = kinds.length > 1 ? h("select", { id: "f-kind", onchange: (event) => {
      for (const card of main.querySelectorAll(".cards > li")) card.hidden = Boolean(event.target.value) && card.dataset.kind !== event.target.value;
    } }, h("option", { value: "" }, t("all_kinds")), kinds.map((kind) => h("option", { value: kind }, t(`kind_${kind}`)))) : null;
    screen(t("open_projects"),
      items && !items.length ? h("p", {}, t("no_projects")) : null,
      filter ? h("div", { class: "field" }, h("label", { for: "f-kind" }, t("kind")), filter) : null,
      h("ul", { class: "cards" }, (items || []).map((project) => h("li", { class: "card", "data-kind": project.kind },
        h("h2", {}, project.title),
        h("p", { class: "meta" }, t(`kind_${project.kind}`), " · ", t("reward", { amount: money(project.reward_cents) }), " · ",
          t("time_per_task", { minutes: Math.round(project.lease_seconds / 60) })),
        project.instructions ? h("details", {}, h("summary", {}, t("instructions")), renderMarkdown(project.instructions)) : null,
        project.tasks_available === false ? h("p", { class: "meta" }, t("no_task_here"))
          : h("a", { class: "button", href: `#/task/${encodeURIComponent(project.project_id)}` }, t("start"))))),
      h("a", { class: "button secondary", href: "#/task" }, t("any_task")),
      h("button", { type: "button", class: "secondary", onclick: () => prefetch() }, t("prefetch")));
  },

  async task(projectId) {
    const lease = await nextLease(projectId);
    if (lease === undefined) return undefined;  // gone to the profile
    if (!lease) return screen(t("projects"), h("p", { class: "notice", role: "status" }, t("no_task")),
                              h("a", { class: "button", href: "#/projects" }, t("projects")));
    showLease(lease, projectId);
  },

  // --- Record, money, reliability ---------------------------------------------------------------
  async history() {
    const [page, titles] = await Promise.all([api("GET", "/me/assignments?limit=50"), projectTitles()]);
    const items = page.items.filter((a) => a.state !== "leased");
    screen(t("history"), items.length ? h("ul", { class: "cards" }, items.map((a) => h("li", { class: `card state-${a.state}` },
      h("p", { class: "row" }, h("strong", {}, t(`state_${a.state}`)), h("span", {}, money(a.reward_cents))),
      h("p", { class: "meta" }, when(a.submitted_at || a.leased_at), " · ", titles[a.project_id] || a.project_id),
      a.answer != null ? h("p", { class: "answer" }, typeof a.answer === "string" ? a.answer : JSON.stringify(a.answer)) : null,
      a.review_reason ? h("p", { class: "reason" }, t("reason", { reason: a.review_reason })) : null))) : h("p", {}, t("no_history")));
  },

  async earnings() {
    const [ledger, me, titles] = await Promise.all([api("GET", "/me/ledger?limit=50"), api("GET", "/me"), projectTitles()]);
    const percent = (r) => (r == null ? t("unknown") : `${Math.round(r * 100)} %`);
    screen(t("earnings"),
      h("dl", { class: "totals" }, h("dt", {}, t("earned")), h("dd", {}, money(ledger.balance.earned_cents)),
        h("dt", {}, t("pending")), h("dd", {}, money(ledger.balance.pending_cents)),
        h("dt", {}, t("reliability")), h("dd", {}, percent(me.reliability))),
      h("h2", {}, t("my_projects")),
      h("ul", { class: "cards" }, me.projects.map((p) => h("li", { class: "card" },
        h("p", { class: "row" }, h("strong", {}, titles[p.project_id] || p.project_id), h("span", {}, t("answers_n", { n: p.answers }))),
        h("p", { class: "meta" }, `${t("reliability")}: ${percent(p.reliability)}`),
        p.blocked_until ? h("p", { class: "reason" }, p.blocked_until >= 9e15 ? t("blocked_forever") : t("blocked", { date: when(p.blocked_until) }),
                            p.block_message ? ` — ${p.block_message}` : "") : null))),
      h("h2", {}, t("ledger")),
      h("ul", { class: "cards" }, ledger.items.map((e) => h("li", { class: "card row" },
        h("span", {}, e.kind === "bonus" ? `${t("bonus")}: ${e.reason}` : t("reward_entry"), h("br"),
          h("small", {}, when(e.created_at))), h("strong", {}, money(e.cents))))));
  },
};

// Titles of the projects open to me, by id (records name projects by id only).
async function projectTitles() {
  const open = await api("GET", "/work/projects").catch(() => ({ items: [] }));
  return Object.fromEntries(open.items.map((p) => [p.project_id, p.title]));
}

// A lease kept for offline work is used before a new one is asked for.
async function nextLease(projectId) {
  const kept = (await store.mine("leases")).filter((l) => l.expires_at > Date.now() + 5000 && (!projectId || l.project_id === projectId));
  if (kept.length) return kept[0];
  try {
    return await api("POST", "/work/next", projectId ? { project_id: projectId } : {});
  } catch (error) {
    if (error instanceof ApiError && error.code === "no_task_available") return null;
    if (error instanceof ApiError && error.code === "terms_not_accepted") {
      flash(t("terms_needed"), true);
      location.hash = "#/profile";
      return undefined;
    }
    throw error;
  }
}

// A new worker starts on the profile screen, where the terms are accepted.
async function termsAccepted() {
  try {
    return Boolean((await api("GET", "/me/profile")).terms_accepted_at);
  } catch (error) {
    return !(error instanceof ApiError && error.code === "not_found");
  }
}

// Leases taken ahead for offline work. /work/next may give back a lease the worker already
// holds (the one on screen, or one kept before: that is what makes a retried call safe), so
// only new ones count, and it is asked a few times more than the leases wanted.
async function prefetch(projectId, onScreen) {
  const held = new Set([onScreen, ...(await store.mine("leases")).map((l) => l.lease_id)]);
  let kept = 0;
  for (let attempt = 0; kept < 3 && attempt < 12; attempt += 1) {
    let lease;
    try {
      lease = await api("POST", "/work/next", projectId ? { project_id: projectId } : {});
    } catch (error) {
      if (!(error instanceof ApiError && error.code === "no_task_available")) notice(describe(error), true);
      break;
    }
    if (held.has(lease.lease_id)) continue;
    held.add(lease.lease_id);
    await store.keep("leases", lease);
    kept += 1;
  }
  notice(kept ? t("prefetched", { n: kept }) : t("no_task"));
}

// A media or link block's URL: the lease's presigned URL for a media key, else an http(s) URL.
const blockUrl = (block, lease) => safeUrl((lease.media || {})[block.field] || block.value || lease.payload[block.field]);

function blockNode(block, lease) {
  const value = block.value ?? lease.payload[block.field];
  const label = block.label ? h("p", { class: "block-label" }, block.label) : null;
  const url = () => blockUrl(block, lease);
  switch (block.type) {
    case "image": return h("figure", {}, label, url() ? h("img", { src: url(), alt: block.label || "" }) : null);
    case "audio": return h("figure", {}, label, h("audio", { src: url() || false, controls: true }));
    case "video": return h("figure", {}, label, h("video", { src: url() || false, controls: true, playsinline: true }));
    case "link": return h("p", {}, url() ? h("a", { href: url(), target: "_blank", rel: "noopener noreferrer nofollow" }, block.label || url()) : null);
    default: return h("section", { class: "block" }, label,
      renderMarkdown(typeof value === "string" ? value : JSON.stringify(value, null, 1)));
  }
}

function showLease(lease, projectId) {
  const started = Date.now();
  const shown = WIDGET_FIELDS[lease.answer_type.kind] || [];
  let view = (lease.view || Object.keys(lease.payload).map((name) => ({ type: "text", field: name, label: name })))
    .filter((block) => !(block.type === "text" && shown.includes(block.field)));
  // Boxes are drawn on the view's first image, which the widget shows instead of the view.
  const drawnOn = lease.answer_type.kind === "boxes" ? view.find((block) => block.type === "image") : null;
  if (drawnOn) view = view.filter((block) => block !== drawnOn);
  const answer = widget(lease.answer_type, lease, drawnOn && blockUrl(drawnOn, lease));
  const clock = h("p", { class: "countdown", role: "timer", "aria-live": "off" });
  const next = () => route(`#/task/${projectId || ""}`);
  const done = async (sendAnswer) => {
    await store.remove("leases", lease.lease_id);
    await sendAnswer();
    next();
  };
  const submit = h("button", { type: "submit" }, t("submit"));
  screen(lease.title || t("projects"), clock,
    lease.instructions ? h("details", {}, h("summary", {}, t("instructions")), renderMarkdown(lease.instructions)) : null,
    ...view.map((block) => blockNode(block, lease)),
    Object.assign(form(async () => {
      const value = answer.read();
      await store.keep("outbox", { lease_id: lease.lease_id, answer: value, time_spent_ms: Date.now() - started });
      await done(sync);
    }, answer.node, h("div", { class: "actions" }, submit,
      h("button", { type: "button", class: "secondary", onclick: () => done(async () => {
        await api("POST", `/leases/${encodeURIComponent(lease.lease_id)}/release`).catch(() => {});  // it expires anyway
      }) }, t("skip_task")),
      h("button", { type: "button", class: "secondary", onclick: () => prefetch(projectId, lease.lease_id) }, t("prefetch")))),
    { noValidate: true }));  // each widget checks its answer and says what is missing
  const tick = () => {
    const left = Math.max(0, lease.expires_at - Date.now());
    const seconds = Math.floor(left / 1000);
    clock.textContent = left ? t("time_left", { time: `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}` }) : t("expired");
    clock.classList.toggle("bad", seconds < 60);
    if (!left) { clearInterval(countdown); submit.disabled = true; store.remove("leases", lease.lease_id); }
  };
  tick();
  countdown = setInterval(tick, 1000);
}

// --- Outbox status and sending ------------------------------------------------------------------
// The header's status line outlives screens: offline, answers waiting, the last one sent or refused.
let lastEvent = { text: "", bad: false, at: 0 };
const flash = (text, bad = false) => { lastEvent = { text, bad, at: Date.now() }; };

async function showStatus() {
  const waiting = (await store.mine("outbox")).length;
  const recent = Date.now() - lastEvent.at < 10000 ? lastEvent.text : "";
  statusLine.textContent = [navigator.onLine ? "" : t("offline"), waiting ? t("queued", { n: waiting }) : "", recent]
    .filter(Boolean).join(" ");
  statusLine.classList.toggle("bad", Boolean(recent) && lastEvent.bad);
}

async function sync() {
  try {
    if (remote.session()) {
      const { sent, failed } = await store.flush();
      if (sent) flash(t(sent > 1 ? "sent_n" : "sent", { n: sent }));
      for (const { message } of failed) flash(t("answer_failed", { message }), true);
    }
  } catch (error) {
    if (!(error instanceof NetworkError)) flash(describe(error), true);
  }
  await showStatus();
}

// --- Routing ----------------------------------------------------------------------------------
const NAV = [["#/projects", "projects"], ["#/history", "history"], ["#/earnings", "earnings"], ["#/profile", "profile"]];

async function route(hash = location.hash) {
  const [name, arg] = hash.replace(/^#\//, "").split("/");
  const open = ["signin", "signup", "verify"];
  const target = screens[name] ? name : (remote.session() ? "projects" : "signin");
  if (!remote.session() && !open.includes(target)) return (location.hash = "#/signin");
  const nav = document.getElementById("nav");
  nav.hidden = open.includes(target);
  nav.replaceChildren(h("ul", {}, NAV.map(([href, key]) => h("li", {}, h("a", {
    href, "aria-current": href === `#/${target}` ? "page" : false }, t(key))))));
  try {
    await screens[target](arg && decodeURIComponent(arg));
  } catch (error) {
    screen(t(target === "task" ? "projects" : target), h("p", { class: "notice bad", role: "alert" }, t("error", { message: describe(error) })));
  }
  showStatus();
}

async function start() {
  document.documentElement.lang = lang;
  document.querySelector(".skip").textContent = t("skip");
  document.getElementById("nav").setAttribute("aria-label", t("nav"));
  await remote.loadConfig();
  window.addEventListener("hashchange", () => route());
  window.addEventListener("online", sync);
  window.addEventListener("offline", showStatus);
  setInterval(() => navigator.onLine && sync(), 15000);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js");
  await route();
  sync();
}

start();
