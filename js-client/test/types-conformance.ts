// Type-checked with tsc (tsconfig.json), never run: it holds wsns.js, as tsc reads its JSDoc,
// against wsns.d.ts, both ways, so that the two cannot disagree. `#wsns-source` is mapped to
// wsns.js itself in tsconfig.json (a plain import of "../wsns.js" loads wsns.d.ts instead).
//
// Every export, and every public member of its classes (a name without a leading `_`; those
// are the client's internals), must exist on both sides with types assignable both ways.
// Members are compared one key at a time, a method as a tuple of its parameter list and its
// result: compared as methods, tsc would check parameters loosely (`string | number` passes
// for `string`), and a comparison of the two whole objects let a widened parameter through
// (tsc 5.9). A failure names the export or member that differs. `any` (`*`
// in JSDoc) fits everything, so a member typed `*` is only checked to exist.
import type * as Source from "#wsns-source";
import type * as Declared from "sanic-wsns-client";

/** Compiles only when `A` is assignable to `B`. */
type Fits<A extends B, B> = A;
/**
 * A method as its parameter list and result (compared as tuples: element by element, and
 * by length, so an extra optional parameter counts); other types as they are.
 */
type Call<T> = T extends (...args: infer A) => infer R ? [parameters: A, result: R] : T;
/** The public members of a class instance. */
type Public<T> = { [K in keyof T as K extends `_${string}` ? never : K]: Call<T[K]> };
/** The keys of `S` and `D` whose members are missing on one side or not assignable both ways. */
type Mismatches<S, D> = {
  [K in keyof S | keyof D]: K extends keyof S & keyof D
    ? [S[K]] extends [D[K]] ? [D[K]] extends [S[K]] ? never : K : K
    : K;
}[keyof S | keyof D];

/** Each export as the arguments it takes: a function's, a class's constructor's. */
type Arguments<M extends typeof Source | typeof Declared> = {
  connect: Parameters<M["connect"]>;
  Namespace: ConstructorParameters<M["Namespace"]>;
  WsnsError: ConstructorParameters<M["WsnsError"]>;
};

export type Checks = [
  // The same exported values, called or constructed with the same arguments.
  Fits<keyof typeof Source, keyof typeof Declared>,
  Fits<keyof typeof Declared, keyof typeof Source>,
  Fits<Mismatches<Arguments<typeof Source>, Arguments<typeof Declared>>, never>,
  Fits<ReturnType<typeof Source.connect>, Source.Namespace>,
  Fits<ReturnType<typeof Declared.connect>, Declared.Namespace>,
  // The same public members, of the same types.
  Fits<Mismatches<Public<Source.Namespace>, Public<Declared.Namespace>>, never>,
  Fits<Mismatches<Public<Source.WsnsError>, Public<Declared.WsnsError>>, never>,
];
