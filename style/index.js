// The same files in the same order as index.css: the shared rules first.
import './base.css';
import './cluster.css';
import './data.css';
import './experiments.css';
import './jobs.css';
import './deployments.css';
import './monitoring.css';
