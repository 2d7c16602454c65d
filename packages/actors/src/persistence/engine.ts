/** One journaled event, as nact hands it to an engine and reads it back on replay. */
export interface PersistedEvent {
  data: unknown;
  sequenceNumber: number;
  key: string;
  tags: string[];
  createdAt: number;
  isDeleted: boolean;
}

/** The latest state of a persistent actor at a sequence number. */
export interface PersistedSnapshot {
  data: unknown;
  sequenceNumber: number;
  key: string;
  createdAt: number;
}

/** The contract nact's persistent actors need from a journal. */
export interface PersistenceEngine {
  /** Events of `key` with a sequence number above `offset`, in order. */
  events(key: string, offset?: number, limit?: number, tags?: string[]): PersistedEvent[];
  /** Resolves once the event is durable on disk. */
  persist(event: PersistedEvent): Promise<void>;
  latestSnapshot(key: string): Promise<PersistedSnapshot | undefined>;
  takeSnapshot(snapshot: PersistedSnapshot): Promise<void>;
}
