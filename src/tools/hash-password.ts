import 'reflect-metadata';
import { PasswordHasher } from '../users/password-hasher.js';
import { withoutFinalNewline } from '../setup/unattended-admin.js';
import { passwordPolicyViolation } from '../users/password-policy.js';

// npm run hash-password            (asks twice, without echo)
// printf %s "$PASSWORD" | npm run --silent hash-password
// Prints the scrypt hash of a password, for KEEL_ADMIN_PASSWORD_HASH (docs/operations.md,
// "Unattended"). The password is read from the terminal or stdin, never from the arguments,
// which the shell's history and `ps` would show. Exit codes: 0 printed, 1 refused.

async function main(): Promise<number> {
  let password: string;
  if (process.stdin.isTTY) {
    password = await askHidden('Password: ');
    if ((await askHidden('Again: ')) !== password) {
      process.stderr.write('The two passwords differ; nothing printed.\n');
      return 1;
    }
  } else {
    // Read as KEEL_ADMIN_PASSWORD_FILE is, so the hash is of the password the file would give.
    password = withoutFinalNewline(await readAll(process.stdin));
  }
  const violation = passwordPolicyViolation(password);
  if (violation) {
    process.stderr.write(`The password ${violation}; nothing printed.\n`);
    return 1;
  }
  process.stdout.write(`${await new PasswordHasher().hash(password)}\n`);
  return 0;
}

async function readAll(stream: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from the terminal without showing it. */
function askHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve) => {
    let line = '';
    const onData = (text: string) => {
      for (const char of text) {
        if (char === '\r' || char === '\n') {
          input.off('data', onData);
          input.setRawMode(false);
          input.pause();
          process.stderr.write('\n');
          resolve(line);
          return;
        }
        if (char === '\u0003') {
          // Ctrl-C: raw mode turns it into a character; leave as the terminal would.
          input.setRawMode(false);
          process.stderr.write('\n');
          process.exit(130);
        }
        if (char === '\u007f' || char === '\b') line = [...line].slice(0, -1).join('');
        else line += char;
      }
    };
    input.on('data', onData);
  });
}

process.exitCode = await main();
