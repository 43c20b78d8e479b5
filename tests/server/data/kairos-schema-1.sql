PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE jobs (
	job_id BIGINT NOT NULL, 
	array_job_id BIGINT, 
	array_task_id INTEGER, 
	name TEXT NOT NULL, 
	user TEXT NOT NULL, 
	uid INTEGER NOT NULL, 
	gid INTEGER NOT NULL, 
	"group" TEXT NOT NULL, 
	account TEXT NOT NULL, 
	partition TEXT NOT NULL, 
	qos TEXT NOT NULL, 
	state TEXT NOT NULL, 
	reason TEXT NOT NULL, 
	priority DOUBLE NOT NULL, 
	nice INTEGER NOT NULL, 
	held BOOLEAN NOT NULL, 
	submit_time DOUBLE NOT NULL, 
	eligible_time DOUBLE, 
	start_time DOUBLE, 
	end_time DOUBLE, 
	expected_start DOUBLE, 
	time_limit DOUBLE, 
	time_min DOUBLE, 
	nodes INTEGER NOT NULL, 
	ntasks INTEGER NOT NULL, 
	cpus_per_task INTEGER NOT NULL, 
	cpus INTEGER NOT NULL, 
	mem_per_node BIGINT, 
	gpus JSON NOT NULL, 
	dependency TEXT, 
	"begin" DOUBLE, 
	work_dir TEXT NOT NULL, 
	stdout TEXT, 
	stderr TEXT, 
	command TEXT NOT NULL, 
	node_list TEXT, 
	cpu_ids JSON NOT NULL, 
	gpu_ids JSON NOT NULL, 
	exit_code INTEGER NOT NULL, 
	signal INTEGER NOT NULL, 
	cpu_time DOUBLE, 
	max_rss BIGINT, 
	restarts INTEGER NOT NULL, 
	spec JSON, 
	supervisor_pid INTEGER, 
	array_task_count INTEGER, 
	array_task_min INTEGER, 
	array_task_max INTEGER, 
	array_task_step INTEGER, 
	expected_end DOUBLE, 
	admin_priority DOUBLE, 
	array_limit INTEGER, 
	cpus_per_task_set BOOLEAN NOT NULL, 
	updated DOUBLE NOT NULL, 
	PRIMARY KEY (job_id)
);
INSERT INTO jobs VALUES(1,NULL,NULL,'train.sh','alice',1000,1000,'alice','physics','local','normal','COMPLETED','None',0.25,0,0,1700000001.0,1700000001.0,1700000010.0,1700000070.0,NULL,3600.0,NULL,1,2,2,4,8192,'[["a100", 1]]',NULL,NULL,'/home/alice','/home/alice/slurm-1.out','/home/alice/slurm-1.out','train.sh','node1','[]','[]',0,0,55.500000000000000001,2048,0,'{"script": "#!/bin/sh\necho hi\n", "argv": ["--epochs", "3"], "environment": {"LANG": "C.UTF-8"}, "export": "ALL", "submit_host": "login1", "array": null, "dependency": null, "command": null, "mem_per_cpu": null, "ntasks_set": true, "submit_dir": "/home/alice", "cpus_per_task_set": true}',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,1,1700000100.0);
INSERT INTO jobs VALUES(2,NULL,NULL,'train.sh','alice',1000,1000,'alice','physics','local','normal','FAILED','NonZeroExitCode',0.25,0,0,1700000002.0,NULL,1700000020.0,1700000030.0,NULL,3600.0,NULL,1,2,2,4,8192,'[["a100", 1]]',NULL,NULL,'/home/alice','/home/alice/slurm-2.out','/home/alice/slurm-2.out','train.sh','node1','[]','[]',3,0,NULL,NULL,0,'{"script": "#!/bin/sh\nexit 3\n", "argv": [], "environment": {}, "export": "NONE", "submit_host": "login1", "array": null, "dependency": null, "command": null, "mem_per_cpu": 512, "ntasks_set": false, "submit_dir": "/home/alice", "cpus_per_task_set": false}',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,1700000100.0);
INSERT INTO jobs VALUES(3,NULL,NULL,'train.sh','alice',1000,1000,'alice','physics','local','normal','RUNNING','None',0.25,0,0,1700000003.0,NULL,1700000040.0,NULL,NULL,3600.0,NULL,1,2,2,4,8192,'[["a100", 1]]',NULL,NULL,'/home/alice','/home/alice/slurm-3.out','/home/alice/slurm-3.out','train.sh','node1','[0, 1, 2, 3]','[]',0,0,NULL,NULL,0,'{"script": "#!/bin/sh\necho hi\n", "argv": ["--epochs", "3"], "environment": {"LANG": "C.UTF-8"}, "export": "ALL", "submit_host": "login1", "array": null, "dependency": null, "command": null, "mem_per_cpu": null, "ntasks_set": true, "submit_dir": "/home/alice", "cpus_per_task_set": true}',4242,NULL,NULL,NULL,NULL,1700003640.0,NULL,NULL,1,1700000100.0);
INSERT INTO jobs VALUES(4,NULL,NULL,'train.sh','alice',1000,1000,'alice','physics','local','normal','PENDING','Dependency',0.25,0,0,1700000004.0,NULL,NULL,NULL,NULL,3600.0,NULL,1,2,2,4,8192,'[["a100", 1]]','afterok:3',NULL,'/home/alice','/home/alice/slurm-4.out','/home/alice/slurm-4.out','train.sh',NULL,'[]','[]',0,0,NULL,NULL,0,'{"script": "#!/bin/sh\necho hi\n", "argv": ["--epochs", "3"], "environment": {"LANG": "C.UTF-8"}, "export": "ALL", "submit_host": "login1", "array": null, "dependency": null, "command": null, "mem_per_cpu": null, "ntasks_set": true, "submit_dir": "/home/alice", "cpus_per_task_set": true}',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,1,1700000100.0);
INSERT INTO jobs VALUES(5,5,0,'arr','alice',1000,1000,'alice','physics','local','normal','PENDING','Priority',0.25,0,0,1700000005.0,NULL,NULL,NULL,NULL,3600.0,NULL,1,2,2,4,8192,'[["a100", 1]]',NULL,NULL,'/home/alice','/home/alice/slurm-5.out','/home/alice/slurm-5.out','train.sh',NULL,'[]','[]',0,0,NULL,NULL,0,'{"script": "#!/bin/sh\necho hi\n", "argv": ["--epochs", "3"], "environment": {"LANG": "C.UTF-8"}, "export": "ALL", "submit_host": "login1", "array": null, "dependency": null, "command": null, "mem_per_cpu": null, "ntasks_set": true, "submit_dir": "/home/alice", "cpus_per_task_set": true}',NULL,2,0,1,1,NULL,NULL,1,1,1700000100.0);
INSERT INTO jobs VALUES(6,5,1,'arr','alice',1000,1000,'alice','physics','local','normal','PENDING','Priority',0.25,0,1,1700000006.0,NULL,NULL,NULL,NULL,3600.0,NULL,1,2,2,4,8192,'[["a100", 1]]',NULL,NULL,'/home/alice','/home/alice/slurm-6.out','/home/alice/slurm-6.out','train.sh',NULL,'[]','[]',0,0,NULL,NULL,0,'{"script": "#!/bin/sh\necho hi\n", "argv": ["--epochs", "3"], "environment": {"LANG": "C.UTF-8"}, "export": "ALL", "submit_host": "login1", "array": null, "dependency": null, "command": null, "mem_per_cpu": null, "ntasks_set": true, "submit_dir": "/home/alice", "cpus_per_task_set": true}',NULL,2,0,1,1,NULL,5.0,1,1,1700000100.0);
CREATE TABLE meta (
	"key" TEXT NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO meta VALUES('schema_version','1');
INSERT INTO meta VALUES('next_job_id','7');
CREATE INDEX ix_jobs_array_job_id ON jobs (array_job_id);
CREATE INDEX ix_jobs_user ON jobs (user);
CREATE INDEX ix_jobs_submit_time ON jobs (submit_time);
CREATE INDEX ix_jobs_state ON jobs (state);
CREATE INDEX ix_jobs_end_time ON jobs (end_time);
COMMIT;
