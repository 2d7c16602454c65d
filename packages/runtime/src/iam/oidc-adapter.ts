import type { Database, RootDatabase } from 'lmdb';
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import type { OidcClients } from './oidc-clients.js';

interface StoredPayload {
  readonly payload: AdapterPayload;
  /** ms since the epoch; absent: never. */
  readonly expiresAt?: number;
}

/** The client metadata the issuer sees for each of our clients: a confidential client of the client_credentials grant only. */
function clientMetadata(client: NonNullable<ReturnType<OidcClients['find']>>): AdapterPayload {
  return {
    client_id: client.clientId,
    client_secret: client.secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    tenant: client.tenant,
  };
}

/**
 * oidc-provider's storage in the runtime's lmdb state: clients come from `clients` (looked up at
 * each request, so they are added and removed at run time), every other model is kept in one
 * database by model and id, and dropped once it expires. Shared by every Provider the issuer
 * builds (one per key rotation).
 */
export function lmdbAdapter(root: RootDatabase, clients: OidcClients): AdapterFactory {
  const db: Database<StoredPayload, string> = root.openDB<StoredPayload, string>({ name: 'oidc.models' });
  return (model: string): Adapter => {
    const key = (id: string) => `${model}:${id}`;
    const live = (id: string): AdapterPayload | undefined => {
      const stored = db.get(key(id));
      if (!stored) return undefined;
      if (stored.expiresAt !== undefined && stored.expiresAt <= Date.now()) {
        void db.remove(key(id));
        return undefined;
      }
      return stored.payload;
    };
    const findBy = (field: 'userCode' | 'uid', value: string) => {
      for (const { key: found, value: stored } of db.getRange({ start: `${model}:`, end: `${model};` })) {
        if (stored.payload[field] === value) return live(found.slice(model.length + 1));
      }
      return undefined;
    };
    return {
      async upsert(id, payload, expiresIn) {
        await db.put(key(id), { payload, ...(expiresIn ? { expiresAt: Date.now() + expiresIn * 1000 } : {}) });
      },
      async find(id) {
        if (model !== 'Client') return live(id);
        const client = clients.find(id);
        return client ? clientMetadata(client) : undefined;
      },
      async findByUserCode(userCode) {
        return findBy('userCode', userCode);
      },
      async findByUid(uid) {
        return findBy('uid', uid);
      },
      async consume(id) {
        const stored = db.get(key(id));
        if (stored) await db.put(key(id), { ...stored, payload: { ...stored.payload, consumed: Math.floor(Date.now() / 1000) } });
      },
      async destroy(id) {
        await db.remove(key(id));
      },
      async revokeByGrantId(grantId) {
        for (const { key: found, value: stored } of db.getRange({ start: `${model}:`, end: `${model};` })) {
          if (stored.payload.grantId === grantId) await db.remove(found);
        }
      },
    };
  };
}
