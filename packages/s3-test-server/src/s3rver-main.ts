// The s3rver process behind the verifying front: `node --openssl-legacy-provider s3rver-main.js DIR`
// with the key pairs it accepts in LZY_S3_KEYS (JSON). Serves on 127.0.0.1 at a port of its own
// choosing, prints `{"port":N}` once it listens, and stops on SIGTERM or when its stdin closes.
// s3rver checks only that a request's access key id is known (never its signature): the front
// before it checks signatures.
import S3rver from 's3rver';
import { DUMMY_ACCOUNT } from 's3rver/lib/models/account.js';
import { parseKeys } from './keys.js';

const directory = process.argv[2];
if (!directory) throw new Error('usage: s3rver-main DIRECTORY');
for (const key of parseKeys(process.env.LZY_S3_KEYS ?? '[]')) DUMMY_ACCOUNT.createKeyPair(key.accessKeyId, key.secretAccessKey);
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);

const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.stdin.on('end', stop).resume();
