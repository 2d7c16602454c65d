import { randomBytes } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';

/** A service account: an OIDC client of this server's issuer, of one tenant; its roles are role bindings of its subject, `client:<clientId>`. */
export interface OidcClient {
  readonly clientId: string;
  readonly tenant: string;
  /** ms since the epoch. */
  readonly createdAt: number;
}

interface StoredClient extends OidcClient {
  /** The issuer compares it with what the client sends (HTTP basic authentication), so it is kept as is. */
  readonly secret: string;
}

/** The issuer's clients, in the runtime's lmdb state; the issuer looks them up at each request, so they come and go at run time. */
export class OidcClients {
  private readonly db: Database<StoredClient, string>;

  constructor(root: RootDatabase) {
    this.db = root.openDB<StoredClient, string>({ name: 'oidc.clients' });
  }

  /** A new client of `tenant`; its secret is returned here and never again. */
  async create(tenant: string): Promise<{ clientId: string; clientSecret: string }> {
    const clientId = `lzy-${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x')}`;
    const clientSecret = randomBytes(32).toString('base64url');
    await this.db.put(clientId, { clientId, tenant, createdAt: Date.now(), secret: clientSecret });
    return { clientId, clientSecret };
  }

  /** Every client, without secrets, oldest first. */
  list(): OidcClient[] {
    return [...this.db.getRange()]
      .map(({ value: { secret: _secret, ...client } }) => client)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Removes a client; its tokens already issued stay valid until they expire. False when there is none. */
  async remove(clientId: string): Promise<boolean> {
    return this.db.remove(clientId);
  }

  /** A client with its secret, for the issuer. */
  find(clientId: string): (OidcClient & { secret: string }) | undefined {
    return this.db.get(clientId);
  }
}
