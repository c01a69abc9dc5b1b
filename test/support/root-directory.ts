/** Reading what a boot script left under a root directory: a sandbox's, or a VM's root file system. */
import { existsSync, readFileSync, statSync } from "fs";
import { join } from "path";

export class RootDirectory {
  constructor(readonly root: string) {}

  file(path: string): string {
    return readFileSync(join(this.root, path), "utf8");
  }

  /** Permission bits in octal, e.g. `600`. */
  mode(path: string): string {
    return (statSync(join(this.root, path)).mode & 0o777).toString(8);
  }

  exists(path: string): boolean {
    return existsSync(join(this.root, path));
  }
}
