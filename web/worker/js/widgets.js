// The answer widget of each kind (chalicelib/kinds): build(answerType, lease) returns
// {node, read}; read() gives the answer in the kind's format or throws an Error to show.
import { t } from "./i18n.js";
import { safeUrl } from "./markdown.js";

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else if (value !== false && value != null) node.setAttribute(name, value);
  }
  node.append(...children.flat().filter((c) => c != null));
  return node;
}

let unique = 0;
const id = (prefix) => `${prefix}-${++unique}`;

function choices(type, labels, legend) {
  const name = id("choice");
  const node = h("fieldset", { class: "choices" }, h("legend", {}, legend),
    labels.map((label, i) => h("label", { class: "choice" },
      h("input", { type, name, value: String(i) }), h("span", {}, label))));
  const picked = () => [...node.querySelectorAll("input:checked")].map((input) => Number(input.value));
  return { node, picked };
}

const KINDS = {
  single_choice(type) {
    const { node, picked } = choices("radio", type.labels, t("your_answer"));
    node.querySelector("legend").className = "sr-only";
    return { node, read: () => {
      if (!picked().length) throw new Error(t("required"));
      return type.labels[picked()[0]];
    } };
  },

  multiple_choice(type) {
    const max = type.max_selected ?? type.labels.length;
    const { node, picked } = choices("checkbox", type.labels, t("choose_n", { min: type.min_selected, max }));
    return { node, read: () => {
      const chosen = picked();
      if (chosen.length < type.min_selected || chosen.length > max) throw new Error(t("choose_n", { min: type.min_selected, max }));
      return chosen.map((i) => type.labels[i]);
    } };
  },

  number(type) {
    const input = h("input", { id: id("number"), type: "number", inputmode: "decimal", required: true,
      min: type.min ?? false, max: type.max ?? false, step: type.decimals == null ? "any" : String(10 ** -type.decimals) });
    const node = h("div", { class: "field" }, h("label", { for: input.id }, t("your_answer")), h("div", { class: "row" }, input,
      type.unit ? h("span", { class: "unit" }, type.unit) : null));
    node.querySelector("label").className = "sr-only";
    return { node, read: () => {
      const value = input.valueAsNumber;
      if (!Number.isFinite(value)) throw new Error(t("required"));
      if (input.validity.rangeOverflow || input.validity.rangeUnderflow) throw new Error(input.validationMessage);
      return value;
    } };
  },

  rating(type) {
    const { node, picked } = choices("radio", type.scale.map((label, i) => `${i + 1} · ${label}`), t("your_answer"));
    node.classList.add("scale");
    node.querySelector("legend").className = "sr-only";
    return { node, read: () => {
      if (!picked().length) throw new Error(t("required"));
      return picked()[0] + 1;
    } };
  },

  text(type) {
    const area = h("textarea", { id: id("text"), rows: "4", maxlength: String(type.max_length), required: true });
    const node = h("div", { class: "field" }, h("label", { for: area.id, class: "sr-only" }, t("your_answer")), area);
    return { node, read: () => {
      if (area.value.trim().length < Math.max(1, type.min_length)) throw new Error(t("required"));
      return area.value;
    } };
  },

  pairwise(type, lease) {
    const side = (value) => (value && typeof value === "object" ? value : { id: value });
    const items = [side(lease.payload.left), side(lease.payload.right)];
    const show = (item, name) => {
      const image = safeUrl(item.image_url || (lease.media || {})[name] || "");
      return h("span", { class: "item" }, image ? h("img", { src: image, alt: item.text || item.id }) : null,
               h("span", {}, item.text || item.title || item.id));
    };
    const name = id("pair");
    const options = [[items[0].id, show(items[0], "left")], [items[1].id, show(items[1], "right")]];
    if (type.allow_tie) options.push(["tie", h("span", {}, t("tie"))]);
    const node = h("fieldset", { class: "choices pair" }, h("legend", {}, t("which_better")),
      options.map(([value, content]) => h("label", { class: "choice" }, h("input", { type: "radio", name, value }), content)));
    return { node, read: () => {
      const chosen = node.querySelector("input:checked");
      if (!chosen) throw new Error(t("required"));
      return chosen.value;
    } };
  },

  boxes(type, lease, imageUrl) { return boxes(type, lease, imageUrl); },
};

// Boxes: drag with a finger, a pen or a mouse (pointer events) over the image; coordinates
// are sent in the image's own pixels (the payload's width/height, else its natural size).
function boxes(type, lease, imageUrl) {
  const payload = lease.payload;
  const src = imageUrl || safeUrl(payload.image_url || payload.image);
  const image = h("img", { src: src || false, alt: payload.alt || "", draggable: "false" });
  const layer = h("div", { class: "boxes-layer" });
  const stage = h("div", { class: "boxes-stage", tabindex: "0", role: "application",
                            "aria-label": t("boxes_help"), "aria-describedby": false }, image, layer);
  const labels = type.labels || [];
  const select = labels.length > 1 ? h("select", { id: id("label") }, labels.map((l) => h("option", { value: l }, l))) : null;
  const list = h("ol", { class: "boxes-list", "aria-label": t("boxes_drawn") });
  const drawn = [];
  const size = () => [payload.width || type.image_width || image.naturalWidth || image.clientWidth,
                      payload.height || type.image_height || image.naturalHeight || image.clientHeight];
  const render = () => {
    layer.replaceChildren(...drawn.map((box) => {
      const [w, hgt] = size();
      return h("div", { class: "box", style: `left:${(box.x1 / w) * 100}%;top:${(box.y1 / hgt) * 100}%;` +
        `width:${((box.x2 - box.x1) / w) * 100}%;height:${((box.y2 - box.y1) / hgt) * 100}%` });
    }));
    list.replaceChildren(...drawn.map((box, i) => h("li", {},
      `${box.label ? box.label + " " : ""}(${Math.round(box.x1)}, ${Math.round(box.y1)}) → (${Math.round(box.x2)}, ${Math.round(box.y2)}) `,
      h("button", { type: "button", class: "link", onclick: () => { drawn.splice(i, 1); render(); } }, t("remove")))));
  };
  const point = (event) => {
    const rect = image.getBoundingClientRect();
    const [w, hgt] = size();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return [clamp((event.clientX - rect.left) / rect.width) * w, clamp((event.clientY - rect.top) / rect.height) * hgt];
  };
  let start = null;
  stage.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    stage.setPointerCapture(event.pointerId);
    start = point(event);
    drawn.push({ x1: start[0], y1: start[1], x2: start[0], y2: start[1], label: select ? select.value : labels[0] });
  });
  stage.addEventListener("pointermove", (event) => {
    if (!start) return;
    const [x, y] = point(event);
    Object.assign(drawn[drawn.length - 1], { x1: Math.min(x, start[0]), y1: Math.min(y, start[1]),
                                             x2: Math.max(x, start[0]), y2: Math.max(y, start[1]) });
    render();
  });
  const end = () => {
    if (!start) return;
    start = null;
    const box = drawn[drawn.length - 1];
    if (box.x2 - box.x1 < 2 || box.y2 - box.y1 < 2) drawn.pop();  // a tap, not a box
    render();
  };
  stage.addEventListener("pointerup", end);
  stage.addEventListener("pointercancel", end);
  // The keyboard: arrows move a cross-hair (Shift: 10x), Enter or Space sets a box's first
  // corner, then its second.
  const cursor = h("div", { class: "cursor", hidden: true });
  stage.append(cursor);
  let at = null;
  let corner = null;
  stage.addEventListener("keydown", (event) => {
    const [w, hgt] = size();
    at ||= [w / 2, hgt / 2];
    const step = (event.shiftKey ? 0.1 : 0.01) * w;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      at = [Math.min(w, Math.max(0, at[0] + moves[event.key][0])), Math.min(hgt, Math.max(0, at[1] + moves[event.key][1]))];
    } else if (event.key === "Enter" || event.key === " ") {
      if (!corner) corner = at;
      else {
        drawn.push({ x1: Math.min(corner[0], at[0]), y1: Math.min(corner[1], at[1]), x2: Math.max(corner[0], at[0]),
                     y2: Math.max(corner[1], at[1]), label: select ? select.value : labels[0] });
        corner = null;
        render();
      }
    } else return;
    event.preventDefault();
    Object.assign(cursor, { hidden: false });
    cursor.style.cssText = `left:${(at[0] / w) * 100}%;top:${(at[1] / hgt) * 100}%`;
    cursor.classList.toggle("anchored", Boolean(corner));
  });
  const node = h("div", { class: "boxes" }, h("p", { class: "hint" }, t("boxes_help"), " ", t("boxes_keys")),
    select ? h("div", { class: "field" }, h("label", { for: select.id }, t("box_label")), select) : null,
    stage, list);
  return { node, read: () => {
    if (drawn.length < type.min_boxes || drawn.length > type.max_boxes) throw new Error(t("choose_n", { min: type.min_boxes, max: type.max_boxes }));
    return drawn.map(({ x1, y1, x2, y2, label }) => ({ x1: Math.round(x1), y1: Math.round(y1), x2: Math.round(x2),
                                                      y2: Math.round(y2), ...(label ? { label } : {}) }));
  } };
}

// Payload fields a kind's widget shows itself: a view's text block of one would repeat it.
export const WIDGET_FIELDS = { pairwise: ["left", "right"], boxes: ["image_url", "image", "width", "height", "alt"] };

// imageUrl: for boxes, the image to draw on (the view's first image block), if any.
export function widget(answerType, lease, imageUrl) {
  return (KINDS[answerType.kind] || KINDS.text)(answerType, lease, imageUrl);
}
