// Test guest: prints to stdout and stderr, then returns; with {"throw": MESSAGE} throws
// an Error out of run, with {"err": MESSAGE} throws that string (the WIT err), and with
// {"wrapped": MESSAGE} throws an Error through the wrapper the JavaScript template uses.
function handle(args) {
  console.log('out: one');
  console.error('error: two');
  if ('throw' in args) throw new Error(args.throw);
  if ('err' in args) throw args.err;
  return { ok: true };
}

export function run(input) {
  const args = JSON.parse(input);
  if (!('wrapped' in args)) return JSON.stringify(handle(args));
  try {
    throw new Error(args.wrapped);
  } catch (e) {
    throw String(e);
  }
}
