// The book's live explorers in the rendered page, without a kernel.
//
// In a notebook the explorers are ipywidgets (genai_lib.viz.live) that call the model in Python.
// On the site, this module draws the same figures: the book's pre-trained Shakespeare GPT runs in
// the page with ONNX Runtime Web (WebAssembly, one thread), from files the site itself serves
// (book/_ext/book_assets.py puts the runtime, the model and this file in _static/explorers/).
// A code cell tagged `explorer-<name>` gets the explorer <name> drawn under it; a page whose model
// cannot load says so where the figure would be.
//
// The model's outputs (genai_lib/llm/onnx_export.py): logits (T, V), attention (L, H, T, T) and
// lens (L + 1, T, V), for ids (1, T) with T <= block_size.

const BASE = new URL("./", import.meta.url).href;
const MODEL = "shakespeare-char";
let ort = null; // ONNX Runtime Web, imported by the pages that run the model (not the tokens chapter)

async function importRuntime() {
  ort = await import("./ort.wasm.bundle.min.mjs");
  ort.env.wasm.numThreads = 1; // no SharedArrayBuffer needed, so no cross-origin isolation headers
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = { wasm: BASE + "ort-wasm-simd-threaded.wasm" }; // the loader is in the bundle
}

const PALETTE = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"];
const FONT = { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 13 };
const MONO = "ui-monospace, Menlo, Consolas, monospace";
const BASE_LAYOUT = { font: FONT, paper_bgcolor: "white", plot_bgcolor: "white", margin: { l: 50, r: 20, t: 60, b: 40 } };

// ---------------------------------------------------------------------------------------------
// The model and its tokenizer, loaded once per page.

let loading = null;

function loadModel() {
  if (!loading) {
    loading = (async () => {
      const response = await fetch(BASE + MODEL + ".json");
      if (!response.ok) throw new Error(`${MODEL}.json: HTTP ${response.status}`);
      const spec = await response.json();
      await importRuntime();
      const session = await ort.InferenceSession.create(BASE + MODEL + ".onnx", { executionProviders: ["wasm"] });
      return { spec, session, tok: new CharTokenizer(spec), queue: Promise.resolve() };
    })();
  }
  return loading;
}

/** genai_lib.llm.CharTokenizer: one id per known character, its UTF-8 bytes otherwise. */
class CharTokenizer {
  constructor(spec) {
    this.chars = spec.chars;
    this.index = new Map(spec.chars.map((ch, i) => [ch, i]));
    this.byteFallback = spec.byte_fallback;
  }
  encode(text) {
    const ids = [];
    const utf8 = new TextEncoder();
    for (const ch of text) { // code points, as Python iterates a str
      const i = this.index.get(ch);
      if (i !== undefined) ids.push(i);
      else if (this.byteFallback) for (const b of utf8.encode(ch)) ids.push(this.chars.length + b);
      else throw new Error(`${ch} is not in the vocabulary`);
    }
    return ids;
  }
  /** decode([id]): a character, a lone ASCII byte as itself, any other lone byte as U+FFFD. */
  decodeOne(id) {
    if (id < this.chars.length) return this.chars[id];
    const b = id - this.chars.length;
    return b < 0x80 ? String.fromCharCode(b) : "\uFFFD";
  }
}

/** Run the model on `ids` (at most block_size of them); one run at a time. */
function run(model, ids) {
  const job = model.queue.then(async () => {
    const input = new ort.Tensor("int64", BigInt64Array.from(ids, (i) => BigInt(i)), [1, ids.length]);
    const out = await model.session.run({ ids: input });
    return { logits: out.logits, attention: out.attention, lens: out.lens, T: ids.length };
  });
  model.queue = job.catch(() => {});
  return job;
}

/** Row `row` of a tensor's last dimension, as a plain array (flat index = row * size). */
function row(tensor, rowIndex) {
  const size = tensor.dims[tensor.dims.length - 1];
  return Array.from(tensor.data.subarray(rowIndex * size, (rowIndex + 1) * size));
}

function softmax(z) {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Python's repr() of a short string, as the kernel versions put it in their titles and hovers. */
function pyRepr(s) {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\t/g, "\\t").replace(/\r/g, "\\r");
  return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
}

const SHOWN = { " ": "·", "\n": "↵" };
const shown = (ch) => SHOWN[ch] ?? ch;

// ---------------------------------------------------------------------------------------------
// Controls: a text box and sliders above the figure, as the ipywidgets versions lay them out.

function textControl(name, value, rows) {
  const label = document.createElement("label");
  label.className = "genai-explorer-text";
  label.append(name + " ");
  const box = document.createElement("textarea");
  box.rows = rows;
  box.value = value;
  box.name = name;
  box.spellcheck = false;
  label.append(box);
  return { label, input: box, value: () => box.value };
}

function sliderControl(name, min, max, step, value, format = (v) => String(v)) {
  const label = document.createElement("label");
  label.className = "genai-explorer-slider";
  label.append(name + " ");
  const input = document.createElement("input");
  Object.assign(input, { type: "range", min, max, step, value, name });
  const output = document.createElement("output");
  output.textContent = format(Number(input.value));
  input.addEventListener("input", () => (output.textContent = format(Number(input.value))));
  label.append(input, output);
  return { label, input, value: () => Number(input.value) };
}

function selectControl(name, options, value) {
  const label = document.createElement("label");
  label.className = "genai-explorer-select";
  label.append(name + " ");
  const input = document.createElement("select");
  input.name = name;
  for (const o of options) input.append(new Option(o, o, o === value, o === value));
  label.append(input);
  return { label, input, value: () => input.value };
}

/**
 * Build an explorer under `cell`: controls, a figure, a status line. `draw(model, values)` returns
 * {data, layout}; it is redrawn whenever a control changes (the latest change wins).
 */
const MODEL_NOTE =
  "Computed in your browser by the book's pre-trained Shakespeare GPT (0.8 M parameters), " +
  "exported to ONNX and run with ONNX Runtime Web; type or move a control to recompute.";

function mount(cell, name, controls, draw, alt, load = loadModel, note = MODEL_NOTE, what = "model") {
  const box = document.createElement("div");
  box.className = "genai-explorer";
  box.dataset.explorer = name;
  box.dataset.state = "loading";
  box.dataset.renders = "0";
  const bar = document.createElement("div");
  bar.className = "genai-explorer-controls";
  for (const [key, c] of Object.entries(controls)) c.input.name = key; // what the browser tests address
  bar.append(...Object.values(controls).map((c) => c.label));
  const figure = document.createElement("div");
  figure.className = "genai-explorer-figure";
  figure.setAttribute("role", "img");
  figure.setAttribute("aria-label", alt);
  const status = document.createElement("p");
  status.className = "genai-explorer-status";
  status.textContent = "Loading into this page…";
  box.append(bar, figure, status);
  cell.after(box);

  let wanted = 0;
  const redraw = async () => {
    const ticket = ++wanted;
    let model;
    try {
      model = await load();
    } catch (err) {
      fail(box, figure, status, err, what);
      return;
    }
    const values = Object.fromEntries(Object.entries(controls).map(([k, c]) => [k, c.value()]));
    const { data, layout } = await draw(model, values);
    if (ticket !== wanted) return; // a newer change is on its way
    await Plotly.react(figure, data, { ...BASE_LAYOUT, ...layout, meta: { alt } }, { responsive: true });
    box.dataset.state = "ready";
    box.dataset.values = JSON.stringify(values); // what the figure now shows (the browser tests wait on it)
    box.dataset.renders = String(Number(box.dataset.renders) + 1);
    status.textContent = note;
  };
  for (const c of Object.values(controls)) c.input.addEventListener("input", redraw);
  redraw().catch((err) => fail(box, figure, status, err, what));
}

function fail(box, figure, status, err, what) {
  box.dataset.state = "error";
  figure.remove();
  status.className = "genai-explorer-status genai-explorer-missing";
  status.setAttribute("role", "alert");
  status.textContent =
    `The explorer's ${what} could not be loaded in this page (${err && err.message ? err.message : err}), ` +
    "so there is no figure here. Run the notebook (the launch buttons above) to use the live version.";
}

// ---------------------------------------------------------------------------------------------
// The four explorers. Each mirrors its chapter's kernel callback (named in the comment).

/** attention.md, live_map: one head's attention map on the reader's sentence, query row outlined. */
function attentionExplorer(cell) {
  const controls = {
    sentence: textControl("sentence", "KING LEAR:\nNothing will come of nothing: speak again.", 2),
    layer: sliderControl("layer", 1, 4, 1, 1),
    head: sliderControl("head", 1, 4, 1, 1),
    position: sliderControl("position", 0, 63, 1, 30),
  };
  const draw = async (model, v) => {
    const { tok, spec } = model;
    const ids = tok.encode(v.sentence || " ").slice(-spec.block_size);
    const { attention, T } = await run(model, ids);
    const ticks = ids.map((i) => ({ " ": "␣", "\n": "↵" })[tok.decodeOne(i)] ?? tok.decodeOne(i));
    const query = Math.min(v.position, T - 1);
    const offset = ((v.layer - 1) * spec.n_head + (v.head - 1)) * T * T;
    const z = Array.from({ length: T }, (_, i) => Array.from(attention.data.subarray(offset + i * T, offset + (i + 1) * T)));
    const top = z[query].map((w, j) => [w, j]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, Math.min(3, query + 1));
    const axis = { tickvals: [...Array(T).keys()], ticktext: ticks, tickangle: 0, showgrid: false,
                   tickfont: { size: 9, family: MONO }, zeroline: false };
    return {
      data: [
        { type: "heatmap", name: "attention", z, x: [...Array(T).keys()], y: [...Array(T).keys()], zmin: 0, zmax: 1,
          colorscale: "Viridis", colorbar: { title: { text: "α" }, thickness: 12 },
          hovertemplate: "query %{y} → key %{x}: %{z:.2f}<extra></extra>" },
        { type: "scatter", mode: "lines", name: "query row", hoverinfo: "skip", line: { color: "#D55E00", width: 2 },
          x: [-0.5, T - 0.5, T - 0.5, -0.5, -0.5], y: [query - 0.5, query - 0.5, query + 0.5, query + 0.5, query - 0.5] },
        { type: "scatter", mode: "markers", name: "top keys", hoverinfo: "skip", x: top.map((t) => t[1]),
          y: top.map(() => query), marker: { symbol: "circle-open", size: 13, color: "#D55E00", line: { width: 3 } } },
      ],
      layout: {
        height: 540 - 110, margin: { l: 50, r: 20, t: 60, b: 60 }, showlegend: false,
        title: { text: `Layer ${v.layer}, head ${v.head}: what ${pyRepr(ticks[query])} attends to` },
        xaxis: { ...axis, range: [-0.5, T - 0.5], title: { text: "key j (attended to)" } },
        yaxis: { ...axis, range: [T - 0.5, -0.5], title: { text: "query i (attending)" }, scaleanchor: "x" },
      },
    };
  };
  mount(cell, "attention", controls, draw,
    "Attention map of one head of the book's pre-trained GPT on the sentence typed above, query positions down " +
    "and key positions across; the query position's row is outlined and circles mark the three keys it attends to most.");
}

/** decoding.md, live_rules and decoding_distribution: q under temperature, then top-k, then top-p. */
export function decodingDistribution(logits, temperature, topK, topP) {
  const V = logits.length;
  if (temperature === 0) {
    const q = new Array(V).fill(0);
    q[logits.indexOf(Math.max(...logits))] = 1;
    return q;
  }
  const probs = softmax(logits.map((z) => z / temperature));
  const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a] || a - b);
  let ranked = order.map((i) => probs[i]);
  const normalise = (r) => { const s = r.reduce((a, b) => a + b, 0); return r.map((x) => x / s); };
  if (topK) ranked = normalise(ranked.map((x, r) => (r < topK ? x : 0)));
  if (topP !== null && topP !== undefined) {
    let cum = 0;
    ranked = normalise(ranked.map((x) => { const keep = cum < topP; cum += x; return keep ? x : 0; }));
  }
  const q = new Array(V).fill(0);
  order.forEach((i, r) => (q[i] = ranked[r]));
  return q;
}

const PROMPT = "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\nDeny thy father and re";
const RANKS = 24;

function decodingExplorer(cell) {
  const controls = {
    text: textControl("text", PROMPT, 3),
    temperature: sliderControl("temperature", 0, 3, 0.05, 1, (v) => v.toFixed(2)),
    top_k: sliderControl("top-k (0 = off)", 0, 40, 1, 0),
    top_p: sliderControl("top-p", 0.05, 1, 0.05, 1, (v) => v.toFixed(2)),
  };
  const draw = async (model, v) => {
    const { tok, spec } = model;
    const ids = tok.encode(v.text || " ").slice(-spec.block_size);
    const { logits, T } = await run(model, ids);
    const z = row(logits, T - 1);
    const q = decodingDistribution(z, v.temperature, v.top_k || null, v.top_p);
    const p = softmax(z);
    const ranked = [...p.keys()].sort((a, b) => p[b] - p[a] || a - b).slice(0, RANKS);
    const x = ranked.map((i) => shown(tok.decodeOne(i)));
    const kept = q.filter((w) => w > 0).length;
    return {
      data: [
        { type: "bar", name: "model p", x, y: ranked.map((i) => p[i]), marker: { color: "#BBBBBB" } },
        { type: "bar", name: "sampled from: q", x, y: ranked.map((i) => q[i]), marker: { color: PALETTE[1] }, width: 0.4 },
      ],
      layout: {
        height: 320, barmode: "overlay", title: { text: `${kept} character${kept !== 1 ? "s" : ""} can be drawn` },
        yaxis: { range: [0, 1.02], title: { text: "probability" } },
        xaxis: { title: { text: "next character" }, type: "category" },
      },
    };
  };
  mount(cell, "decoding", controls, draw,
    "Bar chart of the 24 most probable next characters after the text typed above: grey bars the model's " +
    "probabilities p, orange bars the distribution q that the chosen temperature, top-k and top-p sample from.");
}

/** gpt.md, live_lens and lens_frames: each character coloured by the lens's probability for it. */
const WIDTH = 48;
const CONFIDENCE = [[0.0, "#F5B971"], [0.5, "#F7F7F7"], [1.0, "#8CC4EA"]];

function lensExplorer(cell) {
  const stages = ["embedding only", "after block 1", "after block 2", "after block 3", "after block 4"];
  const controls = {
    passage: textControl("text", "HAMLET:\nTo be, or not to be, that is the question.", 2),
    read_out: selectControl("read_out", stages, stages[0]),
  };
  const draw = async (model, v) => {
    const { tok, spec } = model;
    let passage = v.passage;
    if ([...passage].length <= 1) passage += " ";
    const all = tok.encode(passage).slice(-(spec.block_size + 1));
    const x = all.slice(0, -1);
    const y = all.slice(1);
    const { lens, T } = await run(model, x);
    const k = stages.indexOf(v.read_out);
    const cells = [];
    let r = 0;
    let c = 0;
    for (const t of y) {
      cells.push([r, c]);
      c += 1;
      if (tok.decodeOne(t) === "\n" || c === WIDTH) [r, c] = [r + 1, 0];
    }
    const rows = cells[cells.length - 1][0] + 1;
    const grid = (fill) => Array.from({ length: rows }, () => new Array(WIDTH).fill(fill));
    const z = grid(null);
    const letters = grid("");
    const hover = grid("");
    for (let i = 0; i < T; i++) {
      const [rr, cc] = cells[i];
      const p = softmax(row(lens, k * T + i));
      const guess = p.indexOf(Math.max(...p));
      letters[rr][cc] = shown(tok.decodeOne(y[i]));
      z[rr][cc] = p[y[i]];
      hover[rr][cc] = `next ${pyRepr(letters[rr][cc])}: p = ${p[y[i]].toFixed(2)}; lens guesses ${pyRepr(shown(tok.decodeOne(guess)))}`;
    }
    return {
      data: [{
        type: "heatmap", name: "next character", z: z.reverse(), text: letters.reverse(), customdata: hover.reverse(),
        zmin: 0, zmax: 1, colorscale: CONFIDENCE, xgap: 1, ygap: 3, texttemplate: "%{text}",
        hovertemplate: "%{customdata}<extra></extra>", colorbar: { title: { text: "p" }, thickness: 10 },
        textfont: { size: 14, family: MONO },
      }],
      layout: {
        height: 60 + 34 * rows + 40, margin: { l: 20, r: 20, t: 60, b: 40 }, title: { text: `Read out ${v.read_out}` },
        xaxis: { visible: false, range: [-0.5, WIDTH - 0.5] },
        yaxis: { visible: false, range: [-0.5, rows - 0.5], scaleratio: 1.9 },
      },
    };
  };
  mount(cell, "lens", controls, draw,
    "The text typed above, one cell per character, coloured by the probability the book's pre-trained GPT gives " +
    "each character when its residual stream is read out at the chosen stage: orange unlikely, blue likely.");
}


// ---------------------------------------------------------------------------------------------
// tokens.md, typed_viewer and token_layout: the reader's text coloured by its BPE tokens. No model
// runs here: genai_lib.llm.BPETokenizer is re-implemented (chunking regex, then merges replayed
// in learned order), with the tokens chapter's merges (shakespeare-bpe.json).

// Python's str patterns in JavaScript: \s is Python's whitespace (str.isspace), \w is [\p{L}\p{N}_],
// \d is \p{Nd}; so [^\W\d_] is [\p{L}\p{Nl}\p{No}].
const PY_S = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const SPLIT_PATTERNS = {
  "'(?:[sdmt]|ll|ve|re)| ?[^\\W\\d_]+| ?\\d+| ?(?:[^\\s\\w]|_)+|\\s+(?!\\S)|\\s+|[\\s\\S]":
    `'(?:[sdmt]|ll|ve|re)| ?[\\p{L}\\p{Nl}\\p{No}]+| ?\\p{Nd}+| ?(?:[^${PY_S}\\p{L}\\p{N}_]|_)+|[${PY_S}]+(?![^${PY_S}])|[${PY_S}]+|[\\s\\S]`,
};

let bpeLoading = null;

function loadBPE() {
  if (!bpeLoading) {
    bpeLoading = (async () => {
      const response = await fetch(BASE + "shakespeare-bpe.json");
      if (!response.ok) throw new Error(`shakespeare-bpe.json: HTTP ${response.status}`);
      return new BPE(await response.json());
    })();
  }
  return bpeLoading;
}

class BPE {
  constructor(data) {
    if (data.pattern !== null && !(data.pattern in SPLIT_PATTERNS)) throw new Error("unknown split pattern");
    this.regex = data.pattern === null ? null : new RegExp(SPLIT_PATTERNS[data.pattern], "gu");
    this.merges = data.merges;
    this.rank = new Map(data.merges.map(([a, b], k) => [a * 65536 + b, k]));
    this.bytes = [...Array(256).keys()].map((b) => [b]);
    for (const [a, b] of data.merges) this.bytes.push([...this.bytes[a], ...this.bytes[b]]);
  }
  /** BPETokenizer.truncated(vocabSize).encode(text). */
  encode(text, vocabSize) {
    const limit = vocabSize - 256;
    const chunks = this.regex ? text.match(this.regex) || [] : [text];
    const ids = [];
    const utf8 = new TextEncoder();
    for (const chunk of chunks) {
      let part = Array.from(utf8.encode(chunk));
      while (part.length >= 2) {
        let best = -1;
        let bestRank = Infinity;
        for (let i = 0; i + 1 < part.length; i++) {
          const r = this.rank.get(part[i] * 65536 + part[i + 1]);
          if (r !== undefined && r < limit && r < bestRank) [best, bestRank] = [i, r];
        }
        if (best < 0) break;
        const [a, b] = [part[best], part[best + 1]];
        const merged = [];
        for (let i = 0; i < part.length; i++) {
          if (i + 1 < part.length && part[i] === a && part[i + 1] === b) { merged.push(256 + bestRank); i++; }
          else merged.push(part[i]);
        }
        part = merged;
      }
      ids.push(...part);
    }
    return ids;
  }
}

/** Python's repr() of bytes: b'...' with \xNN escapes. */
function pyBytesRepr(bytes) {
  const hasSingle = bytes.includes(0x27);
  const quote = hasSingle && !bytes.includes(0x22) ? '"' : "'";
  let body = "";
  for (const b of bytes) {
    if (b === 0x5c) body += "\\\\";
    else if (b === quote.charCodeAt(0)) body += "\\" + quote;
    else if (b === 0x09) body += "\\t";
    else if (b === 0x0a) body += "\\n";
    else if (b === 0x0d) body += "\\r";
    else if (b >= 0x20 && b < 0x7f) body += String.fromCharCode(b);
    else body += "\\x" + b.toString(16).padStart(2, "0");
  }
  return "b" + quote + body + quote;
}

const TINTS = ["#F7D9A0", "#B5DDF5", "#9ED9C5", "#EBC3DA"];
const TOKEN_WIDTH = 44;
const VOCAB_SIZES = ["8192", "4096", "2048", "1024", "768", "512", "384", "256"];

function tokensExplorer(cell) {
  const controls = {
    text: textControl("text", "To be, or not to be — that is the question 🤔", 2),
    vocab_size: selectControl("vocab_size", VOCAB_SIZES, "8192"),
  };
  const draw = async (bpe, v) => {
    const text = v.text || " ";
    const vocab = Number(v.vocab_size);
    const ids = bpe.encode(text, vocab);
    // token_spans: each character belongs to the token holding its first UTF-8 byte.
    const ends = [];
    let end = 0;
    for (const i of ids) ends.push((end += bpe.bytes[i].length));
    const chars = [...text];
    const owner = [];
    let start = 0;
    let k = 0;
    for (const ch of chars) {
      while (ends[k] <= start) k++;
      owner.push(k);
      start += new TextEncoder().encode(ch).length;
    }
    const rows = [];
    let current = [];
    chars.forEach((ch, pos) => {
      current.push(pos);
      if (ch === "\n" || current.length === TOKEN_WIDTH) { rows.push(current); current = []; }
    });
    if (current.length) rows.push(current);
    const grid = (fill) => rows.map(() => new Array(TOKEN_WIDTH).fill(fill));
    const z = grid(null);
    const letters = grid("");
    const hover = grid("");
    rows.forEach((r, ri) => r.forEach((pos, c) => {
      const t = owner[pos];
      z[ri][c] = t % TINTS.length;
      letters[ri][c] = shown(chars[pos]);
      hover[ri][c] = `token ${t + 1} of ${ids.length}: id ${ids[t]} = ${pyBytesRepr(bpe.bytes[ids[t]])}`;
    }));
    const steps = [[0, TINTS[0]]];
    for (let i = 0; i < TINTS.length; i++) for (const s of [0, 1]) steps.push([(i + s) / TINTS.length, TINTS[i]]);
    const colorscale = [[0, TINTS[0]], ...steps.slice(2, -1), [1, TINTS[TINTS.length - 1]]];
    const nBytes = new TextEncoder().encode(text).length;
    return {
      data: [{
        type: "heatmap", name: "tokens", z: z.reverse(), text: letters.reverse(), customdata: hover.reverse(),
        zmin: -0.5, zmax: TINTS.length - 0.5, colorscale, showscale: false, xgap: 1, ygap: 4,
        texttemplate: "%{text}", hovertemplate: "%{customdata}<extra></extra>", textfont: { size: 15, family: MONO },
      }],
      layout: {
        height: 90 + 30 * rows.length, margin: { l: 20, r: 20, t: 60, b: 10 },
        title: { text: `Your text with ${vocab} token ids` },
        annotations: [{ text: `${ids.length} tokens for ${nBytes} bytes: ${(nBytes / ids.length).toFixed(2)} bytes/token`,
                        x: 1, y: 1.02, xref: "paper", yref: "paper", xanchor: "right", yanchor: "bottom", showarrow: false }],
        xaxis: { visible: false, range: [-0.5, TOKEN_WIDTH - 0.5] },
        yaxis: { visible: false, range: [-0.5, rows.length - 0.5], scaleratio: 1.9 },
      },
      ids,
    };
  };
  mount(cell, "tokens", controls, draw,
    "The text typed above laid out character by character, each token of the chosen BPE vocabulary a coloured span; " +
    "hover over a character for its token's id and bytes.", loadBPE,
    "Tokenized in your browser with the tokens chapter's BPE merges (trained by the site's build exactly as on this " +
    "page); type or choose a vocabulary to recompute.", "tokenizer");
}

const EXPLORERS = { attention: attentionExplorer, decoding: decodingExplorer, lens: lensExplorer, tokens: tokensExplorer };

function start() {
  for (const [name, make] of Object.entries(EXPLORERS)) {
    for (const cell of document.querySelectorAll(`.cell.tag_explorer-${name}`)) make(cell);
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
