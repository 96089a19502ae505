// The classic cross-account handler in JavaScript: for the account in scope, list its
// buckets and greet it by alias. Built with componentize-js (see README, "Writing a
// plugin").
import { inScope } from 'xacct:plugin/accounts@0.1.1';
import { Client } from 'xacct:plugin/s3@0.1.1';

export function run(input) {
  const [account] = inScope();
  const buckets = Client.open(account.id).listBuckets().map((bucket) => bucket.name);
  return JSON.stringify({
    greeting: `Hello from ${account.alias} (${account.id})!`,
    account: account.id,
    buckets,
  });
}
