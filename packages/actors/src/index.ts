export * from './errors.js';
export { ask, query, tell, describeRef, deadLetters, type ActorRef, type Askable, type QueryOf, type ReplyOf, type AskableType } from './refs.js';
export {
  startActorSystem,
  spawnActor,
  spawnPersistentActor,
  stopActor,
  type ActorSystem,
  type ActorSystemOptions,
  type ActorContext,
  type ActorSpec,
  type Parent,
  type PersistentActorSpec,
  type PersistentContext,
  type JournalForm,
} from './system.js';
export { failures, type Directive, type Failure as SupervisedFailure, type SupervisionPolicy } from './supervision.js';
export type { PersistenceEngine, PersistedEvent, PersistedSnapshot } from './persistence/engine.js';
export { LmdbJournal, type ArchiveOptions } from './persistence/lmdb-journal.js';
export { JournalArchive, type ArchiveLocation, type ArchiveRecord, type ArchivedJournal } from './persistence/journal-archive.js';
export { Remoting, unixSocketPathFits, type RemotingOptions, type ConnectOptions, type ListenOptions, type Authenticate, type Reauthenticate, type ConnectionInfo } from './remote/remoting.js';
export { Peer, protocolErrors, type FrameCounts, type PeerState, type WhileDisconnected } from './remote/peer.js';
export type { Origin, ExposeOptions } from './remote/exposures.js';
export { defaultLimits, type RemotingLimits, type ReconnectPolicy } from './remote/limits.js';
export { PROTOCOL_VERSION, compileChecker, type Checker } from './remote/protocol.js';
