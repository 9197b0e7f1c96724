/**
 * Builds the three images from their Dockerfiles (hack/testenv/src/images.ts) and prints, for each, its
 * `:dev` tag and the `docker save` archive to import into a node:
 *
 *   bash hack/build-images.sh           # one line per image: <tag> <archive>
 *   bash hack/build-images.sh --json    # everything buildImages() answers
 */
import { buildImages } from '@gco/testenv';

const built = await buildImages();
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(built, null, 2));
} else {
  for (const image of Object.values(built)) console.log(`${image.tag} ${image.archive}`);
}
