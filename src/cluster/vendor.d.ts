// aedes-persistence-redis ships no type declarations: its factory, as this project uses it.
declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';
  export default function redisPersistence(options: { conn: Redis }): unknown;
}
