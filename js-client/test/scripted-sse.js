// A fetch the tests play the SSE server of: streams they write events to, POSTs they answer.

const encoder = new TextEncoder();

function jsonResponse(status, body) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

/** One open event stream: what the client asked for, and what the test writes to it. */
class ScriptedStream {
  constructor(url, init) {
    this.url = new URL(url);
    this.headers = init.headers ?? {};
    this.aborted = false;
    this.body = new ReadableStream({ start: (controller) => { this.controller = controller; } });
    init.signal?.addEventListener("abort", () => {
      this.aborted = true;
      try {
        this.controller.error(new DOMException("aborted", "AbortError"));
      } catch {
        // already closed
      }
    });
  }

  /** Write raw text/event-stream bytes. */
  write(text) {
    this.controller.enqueue(encoder.encode(text));
  }

  /** One frame as the server writes it: event, data, and an id for frames with an offset. */
  frame(frame) {
    const id = Number.isInteger(frame.offset) ? `id: e1:${frame.offset}\n` : "";
    this.write(`event: ${frame.type}\n${id}data: ${JSON.stringify(frame)}\n\n`);
  }

  comment() {
    this.write(": ping\n\n");
  }

  end() {
    this.controller.close();
  }
}

/**
 * Installs itself as `fetch`. `refuse` = {status, body} refuses the next streams;
 * `answer(frame)` = {status, body} answers each POST (default: `{reply: null, frames: []}`).
 */
export class ScriptedSse {
  constructor(t) {
    /** @type {ScriptedStream[]} */
    this.streams = [];
    /** @type {{url: URL, headers: object, frame: object}[]} */
    this.posts = [];
    this.refuse = null;
    this.answer = () => ({ status: 200, body: { reply: null, frames: [] } });
    globalThis.fetch = (url, init = {}) => this.fetch(url, init);
    t.after(() => delete globalThis.fetch);
  }

  async fetch(url, init) {
    if ((init.method ?? "GET") === "GET") {
      if (this.refuse) return jsonResponse(this.refuse.status, this.refuse.body);
      const stream = new ScriptedStream(url, init);
      this.streams.push(stream);
      return new Response(stream.body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
    }
    const post = { url: new URL(url), headers: init.headers ?? {}, frame: JSON.parse(init.body) };
    this.posts.push(post);
    const { status, body } = await this.answer(post.frame);
    return jsonResponse(status, body);
  }

  /** The latest stream. */
  get stream() {
    return this.streams.at(-1);
  }
}

/** Let fetch bodies, stream reads and the client's promise steps run. */
export async function flushed() {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** A Map-backed sessionStorage, installed for the test. */
export function tabStorage(t, entries = {}) {
  const items = new Map(Object.entries(entries));
  globalThis.sessionStorage = {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
  t.after(() => delete globalThis.sessionStorage);
  return items;
}
