"""The Airflow layer: each DAG's typed Params and task bodies, the runtime the tasks of one
process share, the labelling question operator and the labels Asset. DAG files import only
this layer."""
