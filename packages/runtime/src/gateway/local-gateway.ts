import { Remoting, type ActorRef } from '@lzy/actors';
import type { Subject } from '../iam/subject.js';
import type { ClientsMsg } from './clients.js';
import { exposeClients, type ClientPrincipal } from './gateway.js';

/** Who a process of the runtime's own user is, on the data dir's socket: the embedded runtime's local admin, as `Lzy.start` is. */
export const LOCAL_SUBJECT: Subject = { id: 'local', tenant: 'local', roles: ['admin'] };

/**
 * The endpoint of the runtime for the other processes of its user on the same data dir (a second
 * script in the folder, `lzy status`): the gateway's client protocol, on a Unix socket that only
 * that user may connect to. The file's permissions are the credential, so every connection is
 * served as `LOCAL_SUBJECT`, whatever credential it sends.
 */
export function createLocalGateway(clients: ActorRef<ClientsMsg>): Remoting {
  const principal: ClientPrincipal = { kind: 'client', subject: LOCAL_SUBJECT };
  const remoting = new Remoting({ name: 'lzy-runtime-local', authenticate: () => principal });
  exposeClients(remoting, clients);
  return remoting;
}
