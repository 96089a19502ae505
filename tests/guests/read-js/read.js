// Test guest: streams one object ({"bucket": ..., "key": ...}) through the plugin in
// 64 KiB reads and returns the byte count (the per-language streaming benchmark).
import { inScope } from 'xacct:plugin/accounts@0.1.1';
import { Client } from 'xacct:plugin/s3@0.1.1';

export function run(input) {
  const args = JSON.parse(input);
  const [account] = inScope();
  const { body } = Client.open(account.id).getObject(args.bucket, args.key, undefined);
  let read = 0;
  for (;;) {
    let chunk;
    try {
      chunk = body.blockingRead(65536n);
    } catch (e) {
      break;
    }
    read += chunk.length;
  }
  return JSON.stringify({ bytes: read });
}
