/**
 * What the driver facades (`PgPool`, `Mysql2Pool`) hand out for a checkout: the driver connection
 * itself, seen through a `Proxy` that adds the pool's own members (`release`, `destroy`, ...).
 *
 * Two requirements meet here:
 * - **The same object for the same driver connection.** Kysely keys per-connection state by the
 *   object it gets; a new wrapper per checkout would look like a new connection every time.
 * - **The garbage-collection safety net.** A checkout dropped without `release()` must not take its
 *   slot with it. lifeguard's net reports a `PooledConnection` that became unreachable, but the
 *   pool's record holds the driver connection for its whole life: anything reachable from the
 *   driver connection can never be collected.
 *
 * So each driver connection gets one face, which the facade holds strongly only while the
 * connection is idle. While it is out, only the caller holds the face, and the face alone holds
 * the checkout: a face dropped without `release()` takes its checkout with it, and the pool
 * terminates the connection and returns the slot. A face that comes back is kept again, so the
 * next checkout of the same connection gets the same object.
 *
 * Everything but the added members is the driver connection's own: methods run bound to it (one
 * bound copy per method, made on first use), property reads and writes (Knex's `__knexUid`) land on
 * it, and `instanceof` sees its class.
 */
import type { PooledConnection } from '../pooled-connection.js';

type AnyFunction = (...args: unknown[]) => unknown;

/** The members a face adds to its driver connection, given the face itself. */
export type FaceMembers<Face> = (face: Face) => ReadonlyMap<PropertyKey, unknown>;

export class LentFaces<Conn extends object> {
  /** The face of each idle driver connection: held (strongly, through the key's life) only while it is idle. */
  readonly #idle = new WeakMap<Conn, Conn>();
  /** The checkout behind each face that is out: only the caller holds the face, so the face alone holds this. */
  readonly #out = new WeakMap<Conn, PooledConnection<Conn>>();
  /** Each face's driver connection. */
  readonly #target = new WeakMap<Conn, Conn>();
  readonly #members: FaceMembers<Conn>;

  constructor(members: FaceMembers<Conn>) {
    this.#members = members;
  }

  /**
   * The face of an idle (or new) driver connection, made now if it has none: what a `connect`
   * event shows, and what the connection's next checkout hands out.
   */
  faceOf(conn: Conn): Conn {
    let face = this.#idle.get(conn);
    if (face === undefined) {
      face = this.#make(conn);
      this.#idle.set(conn, face);
    }
    return face;
  }

  /** The face to hand out for checkout `pc`: its connection's face, held from now on by the caller alone. */
  lend(pc: PooledConnection<Conn>): Conn {
    const conn = pc.connection;
    const face = this.faceOf(conn);
    this.#idle.delete(conn);
    this.#out.set(face, pc);
    return face;
  }

  /** The checkout behind `face`, which stops being out; undefined if it is not out (released already, or never lent). */
  take(face: Conn): PooledConnection<Conn> | undefined {
    const pc = this.#out.get(face);
    if (pc !== undefined) this.#out.delete(face);
    return pc;
  }

  /** A face taken back whose connection goes back to the pool: kept for the connection's next checkout. */
  keep(face: Conn): void {
    const conn = this.#target.get(face);
    if (conn !== undefined) this.#idle.set(conn, face);
  }

  /** Whether `face` is out (lent and not yet taken back). */
  isOut(face: Conn): boolean {
    return this.#out.has(face);
  }

  /** The face of `conn` if it has one now (idle), else `conn` itself: for events about a connection. */
  known(conn: Conn): Conn {
    return this.#idle.get(conn) ?? conn;
  }

  #make(conn: Conn): Conn {
    const bound = new Map<PropertyKey, { original: AnyFunction; bound: AnyFunction }>();
    let members: ReadonlyMap<PropertyKey, unknown> = new Map();
    const face = new Proxy(conn, {
      get(target, key) {
        const member = members.get(key); // never undefined for a member
        if (member !== undefined) return member;
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        const cached = bound.get(key);
        if (cached?.original === value) return cached.bound;
        const fn = value as AnyFunction;
        const bind: AnyFunction = fn.bind(target);
        bound.set(key, { original: fn, bound: bind });
        return bind;
      },
      set(target, key, value) {
        return Reflect.set(target, key, value, target);
      },
      has(target, key) {
        return members.has(key) || Reflect.has(target, key);
      },
    });
    members = this.#members(face);
    this.#target.set(face, conn);
    return face;
  }
}
