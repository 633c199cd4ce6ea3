// Real servers in a test host, from Debian's packages (scripts/install-test-deps.sh installs
// them): PostgreSQL as the postgres user in a cluster made for the test, Redis, and MariaDB as
// the mysql user in a data folder made for the test.
import { appendFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import type { Service, TestHost } from '../../src/testing';

/** Debian keeps PostgreSQL's programs off PATH, in /usr/lib/postgresql/<version>/bin: the newest. */
export function postgresBin(): string | null {
  try {
    const versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((x, y) => Number(y) - Number(x));
    return versions.length > 0 ? `/usr/lib/postgresql/${versions[0]}/bin` : null;
  } catch {
    return null;
  }
}

export interface Postgres { service: Service; data: string; remove(): void }

/** A fresh cluster in a temporary folder, its server listening on the host's address. */
export async function startPostgres(host: TestHost, port = 5432): Promise<Postgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (scripts/install-test-deps.sh)');
  // Made by the postgres user, so its server may own it (it refuses a data folder it does not own).
  const data = (await host.exec('mktemp', ['-d', '/tmp/tl-pg-XXXXXX'], { user: 'postgres' })).trim();
  const remove = () => rmSync(data, { recursive: true, force: true });
  try {
    await host.exec(`${bin}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-locale', '-E', 'UTF8', '--no-sync'], { user: 'postgres' });
    appendFileSync(`${data}/pg_hba.conf`, 'host all all 0.0.0.0/0 trust\n');
    const service = await host.service(`${bin}/postgres`, [
      '-D', data, '-p', String(port), '-k', data, '-c', `listen_addresses=${host.address}`, '-c', 'fsync=off',
    ], { port, user: 'postgres', ready: /ready to accept connections/ });
    return { service, data, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/** A Redis server with nothing saved to disk, listening on the host's address. */
export function startRedis(host: TestHost, port = 6379): Promise<Service> {
  return host.service('redis-server', [
    '--port', String(port), '--bind', host.address, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', '/tmp',
  ], { port });
}

export interface Mariadb { service: Service; remove(): void }

/**
 * A fresh MariaDB data folder and its server on the host's address. It checks no passwords
 * (--skip-grant-tables, as PostgreSQL's trust above): any user name connects.
 */
export async function startMariadb(host: TestHost, port = 3306): Promise<Mariadb> {
  // Debian's mariadb-server puts the server in /usr/sbin, off an ordinary user's PATH.
  const server = '/usr/sbin/mariadbd';
  if (!existsSync(server)) throw new Error('MariaDB is not installed (scripts/install-test-deps.sh)');
  // Made by the mysql user, so its server may own it.
  const data = (await host.exec('mktemp', ['-d', '/tmp/tl-mariadb-XXXXXX'], { user: 'mysql' })).trim();
  const remove = () => rmSync(data, { recursive: true, force: true });
  try {
    // --no-defaults everywhere: Debian's /etc/mysql configuration (its socket, its data folder
    // under /var/lib/mysql) is the system server's, not this one's.
    await host.exec('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--skip-test-db', '--auth-root-authentication-method=normal'], { user: 'mysql' });
    const service = await host.service(server, [
      '--no-defaults', `--datadir=${data}`, `--socket=${data}/mysqld.sock`, `--pid-file=${data}/mysqld.pid`,
      `--port=${port}`, `--bind-address=${host.address}`, '--skip-grant-tables', '--skip-name-resolve',
      '--innodb-buffer-pool-size=16M',
    ], { port, user: 'mysql', ready: /ready for connections/ });
    return { service, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
