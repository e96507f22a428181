// What must survive a lost network or a closed tab, in IndexedDB:
// - "outbox": answers not yet acknowledged by the server, keyed by lease id, so one lease
//   holds one answer however often it is saved; an answer leaves only once the server has
//   acknowledged it (POST /answers is idempotent per lease: a resend gets the first receipt);
// - "leases": tasks leased ahead for offline work, answered or skipped from here.
// Both hold every worker who signed in on this device, each entry stamped with its owner
// (api.js `owner`): a worker sees and sends only their own, and the others' wait, untouched,
// until their owner signs in again (another worker's token would have them refused, and lost).
import { api, ApiError, NetworkError, owner } from "./api.js";

const RETRYABLE = new Set(["store_unavailable", "rate_limited", "internal_error"]);
let database = null;

function open() {
  database ||= new Promise((resolve, reject) => {
    const request = indexedDB.open("foule", 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore("outbox", { keyPath: "lease_id" });
      request.result.createObjectStore("leases", { keyPath: "lease_id" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return database;
}

async function run(store, mode, action) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(store, mode);
    const request = action(transaction.objectStore(store));
    transaction.oncomplete = () => resolve(request && request.result);
    transaction.onerror = () => reject(transaction.error);
  });
}

export const put = (store, value) => run(store, "readwrite", (s) => s.put(value));
export const remove = (store, key) => run(store, "readwrite", (s) => s.delete(key));
export const all = (store) => run(store, "readonly", (s) => s.getAll());
export const clear = (store) => run(store, "readwrite", (s) => s.clear());

// The signed-in worker's entries, and keeping one under their name. An entry saved before
// entries had owners belongs to whoever is signed in (as everything did then).
export async function mine(store) {
  const me = await owner();
  return me ? (await all(store)).filter((entry) => (entry.owner ?? me) === me) : [];
}
export async function keep(store, value) {
  const me = await owner();
  if (!me) throw new Error("no one is signed in");
  return put(store, { ...value, owner: me });
}

// Sends what waits in the signed-in worker's outbox. Returns {sent, failed: [{lease_id, message}]}; what could
// not be sent for want of network (or a retryable error) stays for the next call. A lock keeps
// two tabs (or a timer and a click) from sending the same batch at once.
export function flush() {
  const locked = (fn) => (navigator.locks ? navigator.locks.request("foule-outbox", fn) : fn());
  return locked(async () => {
    const result = { sent: 0, failed: [] };
    const me = await owner();
    const waiting = await mine("outbox");
    for (let start = 0; start < waiting.length; start += 50) {
      if ((await owner()) !== me) break;  // signed out (or another worker in) meanwhile
      const batch = waiting.slice(start, start + 50);
      let response;
      try {
        response = await api("POST", "/answers", { answers: batch.map(({ lease_id, answer, time_spent_ms }) =>
          ({ lease_id, answer, time_spent_ms })) });
      } catch (error) {
        if (error instanceof NetworkError || (error instanceof ApiError && error.status >= 429)) break;
        throw error;
      }
      for (const item of response.results) {
        if (item.status === "submitted") {
          result.sent += 1;
        } else if (RETRYABLE.has(item.error.code)) {
          continue;
        } else {
          result.failed.push({ lease_id: item.lease_id, message: item.error.message });
        }
        await remove("outbox", item.lease_id);
      }
    }
    return result;
  });
}
