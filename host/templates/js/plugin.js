// {{name}}: for the account it runs in, each bucket with its number of objects.
import { inScope } from 'xacct:plugin/accounts@0.1.1';
import { Client } from 'xacct:plugin/s3@0.1.1';

function handle(_input) {
  const [account] = inScope();
  const client = Client.open(account.id);
  const buckets = [];
  for (const bucket of client.listBuckets()) {
    let objects = 0;
    let continuationToken;
    do {
      const page = client.listObjects({ bucket: bucket.name, continuationToken });
      objects += page.objects.length;
      continuationToken = page.nextContinuationToken;
    } while (continuationToken !== undefined);
    // Printed lines go to the host's log; "warn:" and "error:" set their level.
    console.log(`${bucket.name}: ${objects} objects`);
    buckets.push({ name: bucket.name, objects });
  }
  return { account: account.id, alias: account.alias, buckets };
}

export function run(input) {
  try {
    return JSON.stringify(handle(JSON.parse(input)));
  } catch (e) {
    // Only a thrown string reaches the report: an Error's message would be lost.
    throw String(e);
  }
}
