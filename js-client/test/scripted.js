// A WebSocket the tests play the server of, and a namespace connected through it.
import { connect } from "../wsns.js";

/** A WebSocket the test plays the server of: it records what the client does. */
export class ScriptedSocket {
  static OPEN = 1;
  static opened = [];
  /** Set: new sockets never open (a proxy that refuses the upgrade); they close with 1006. */
  static refusing = false;

  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = ScriptedSocket.OPEN;
    this.sent = [];
    ScriptedSocket.opened.push(this);
    // As a browser's: `open` comes after the constructor returned, `close` alone when refused.
    queueMicrotask(() => (ScriptedSocket.refusing ? this.serverCloses(1006, "") : this.onopen?.()));
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close(code, reason) {
    this.closedWith = { code, reason };
  }

  frame(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  serverCloses(code, reason) {
    this.onclose?.({ code, reason });
  }
}

/** A connected namespace on scripted sockets, with mocked timers; `socket()` is the latest. */
export async function scripted(t, { refusing = false, ...options } = {}) {
  ScriptedSocket.opened = [];
  ScriptedSocket.refusing = refusing;
  globalThis.WebSocket = ScriptedSocket;
  t.after(() => delete globalThis.WebSocket);
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const ns = connect("ws://app.example/ws/room/1", { heartbeat: false, ...options });
  await settled();
  return { ns, socket: () => ScriptedSocket.opened.at(-1) };
}

/** Let the client's pending promise steps run (its attempt computes its query first). */
export async function settled() {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}
