// The names of the images SandboxShift ships in images/: `image: NAME` runs one of them (built on
// first use) unless the config's own images: defines the name. src/model/images.ts says how each is built.
export const SHIPPED_IMAGE_NAMES = ['python', 'node', 'multi', 'pi'] as const;
