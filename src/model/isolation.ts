// What the engine shows about how well a container is isolated, next to the spec it claims in
// its labels. Labels can be copied onto a container made by hand, so the planner checks these
// live facts against the labelled spec (plan/drift.ts).

export interface ObservedMount {
  type: string;
  /** Volume name; null for binds. */
  name: string | null;
  source: string;
  target: string;
  readOnly: boolean;
}

/** From the engine's container list call: checked on every plan, at no extra cost. */
export interface ListedIsolation {
  networkMode: string;
  /** Networks the container is attached to (a `docker network connect` shows here only). */
  networks: readonly string[];
  mounts: readonly ObservedMount[];
  /** Per attached network, its IPv4 address; absent when not read from an engine's list call. */
  addresses?: Readonly<Record<string, ListedAddress>>;
}

export interface ListedAddress {
  /** The address it has now; empty while the container is not running. */
  address: string;
  /** The address fixed at creation (`--ip`, IPAMConfig), or null: the engine hands one out at each start. */
  fixed: string | null;
  /** The engine does not show whether it is fixed (Podman 4.3 shows no IPAMConfig): only the address itself is checked. */
  fixedUnknown?: true;
}

/** Settings only an inspect shows: read for every environment on a full refresh (`--refresh=full`). */
export interface InspectedSecurity {
  user: string;
  privileged: boolean;
  capAdd: readonly string[];
  capDrop: readonly string[];
  securityOpt: readonly string[];
  runtime: string;
  /** null or <= 0: unlimited. */
  pidsLimit: number | null;
}

/** An environment's protect record: a never-started container whose labels say protect on or off. */
export interface ObservedProtectRecord {
  id: string;
  name: string;
  environment: string;
  protect: boolean;
}
