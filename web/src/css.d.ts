// esbuild bundles the page's stylesheet from `import './style.css'`; TypeScript is told such an import exists.
declare module '*.css';
